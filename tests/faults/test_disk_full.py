"""A full disk and a read-only results folder, for real: a small tmpfs (mounted by the test, which needs
root; skipped with the reason otherwise). tunelab stops with a TuneError naming the file, its folder and
the cause; no partial line is left behind, nothing written is lost, and resume=True gives exact
histories once there is space again."""
import os
import subprocess

import pytest
from persist_tools import assert_exact, histories, run

ITERATIONS = 60


def _mount(path, options):
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                              text=True, check=False)
    except OSError as exc:  # no mount command
        return False, str(exc)
    return proc.returncode == 0, proc.stderr.strip()


def _remount(path, options):
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True)


@pytest.fixture
def disk(tmp_path):
    """A 96 KiB tmpfs (resized by the tests with `_remount`)."""
    path = tmp_path / "disk"
    path.mkdir()
    ok, why = _mount(path, "size=96k")
    if not ok:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root in this sandbox): {why}")
    yield path
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _assert_whole_lines(exp_dir):
    """Every result.json / progress.csv / journal ends with a newline and every line parses."""
    histories(exp_dir)  # strict: raises on a partial line
    for trial_dir in os.listdir(exp_dir):
        for name in ("result.json", "progress.csv"):
            path = os.path.join(exp_dir, trial_dir, name)
            if os.path.exists(path) and os.path.getsize(path):
                with open(path, "rb") as f:
                    assert f.read().endswith(b"\n"), path
    with open(os.path.join(exp_dir, ".tunelab", "journal.jsonl"), "rb") as f:
        assert f.read().endswith(b"\n")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("checkpoints", [False, True], ids=["driver-writes-only", "with-checkpoints"])
def test_disk_full_stops_resumably_and_resume_gives_exact_histories(disk, checkpoints):
    env = {} if checkpoints else {"PERSIST_NO_CHECKPOINTS": "1"}
    code, out, err = run(disk, ITERATIONS, resume="AUTO", sleep=0.005, **env)
    assert code == 3, (out, err[-3000:])
    assert "the disk is full" in err and "Cannot write " + str(disk / "exp") in err
    assert "resume=" in err and "Traceback" not in err
    _assert_whole_lines(disk / "exp")
    before = histories(disk / "exp")
    assert before and any(before.values())

    _remount(disk, "size=8m")  # space again
    code, out, err = run(disk, ITERATIONS, resume="RESUME_ERRORED", sleep=0.005, **env)
    assert code == 0, err[-3000:]
    assert_exact(disk / "exp", ITERATIONS)  # no duplicate, no gap: nothing written was lost


@pytest.mark.timeout(60)
def test_read_only_results_folder_is_a_tune_error(disk):
    _remount(disk, "size=8m")
    code, out, err = run(disk, 5, resume="AUTO", name="done")
    assert code == 0, err[-3000:]
    _remount(disk, "ro")
    for name in ("done", "new"):  # resuming a finished experiment, and starting one
        code, out, err = run(disk, 5, resume="AUTO", name=name)
        assert code == 3, (out, err[-3000:])
        assert "read-only" in err and str(disk / name) in err and "Traceback" not in err
    _remount(disk, "rw")
    code, out, err = run(disk, 5, resume="AUTO", name="new")
    assert code == 0, err[-3000:]
