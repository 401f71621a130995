"""Corrupted experiment state of every kind, made by real SIGKILLs of a driver and by editing its files:
a torn line is cut off and resume gives exact histories; anything else is a TuneError naming the file and
the resume= choice that recovers, never a silent re-run of finished trials or duplicated rows."""
import os
import shutil

import pytest
from persist_tools import assert_exact, histories, kill_after, run, start, trial_dirs

ITERATIONS = 40
STATE = os.path.join(".tunelab")


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """An experiment folder whose driver was SIGKILLed mid-run (2 trials running, 1 to come), and a
    pristine copy of it (the journal holds absolute paths, so tests work on the original location)."""
    local = tmp_path_factory.mktemp("killed")
    proc = start(local, ITERATIONS)
    kill_after(proc, local / "exp", rows=30)
    backup = tmp_path_factory.mktemp("backup") / "copy"
    shutil.copytree(local, backup)
    return local, backup


@pytest.fixture
def local(killed):
    """The killed experiment, as it was right after the kill."""
    local, backup = killed
    shutil.rmtree(local)
    shutil.copytree(backup, local)
    return local


def _chop(path, nbytes):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size - nbytes)


@pytest.mark.timeout(90)
def test_torn_journal_line_then_kill_again_gives_exact_histories(tmp_path):
    exp = tmp_path / "exp"
    kill_after(start(tmp_path, ITERATIONS), exp, rows=20)
    journal = exp / STATE / "journal.jsonl"
    _chop(journal, 7)  # the last event is now a torn line
    kill_after(start(tmp_path, ITERATIONS), exp, rows=60)
    code, _out, err = run(tmp_path, ITERATIONS)
    assert code == 0, err[-3000:]
    assert_exact(exp, ITERATIONS)
    assert os.path.exists(str(journal) + ".torn")  # the torn bytes were moved aside, not lost


@pytest.mark.timeout(60)
def test_torn_result_and_progress_lines_are_cut_before_appending(local):
    exp = local / "exp"
    trial_dir = trial_dirs(exp)[0]
    for name, torn in (("result.json", b'{"i": 99, "training_it'), ("progress.csv", b"99,0.1")):
        with open(os.path.join(trial_dir, name), "ab") as f:
            f.write(torn)  # what a kill in the middle of a write leaves
    code, _out, err = run(local, ITERATIONS)
    assert code == 0, err[-3000:]
    assert_exact(exp, ITERATIONS)
    with open(os.path.join(trial_dir, "result.json.torn"), "rb") as f:
        assert f.read() == b'{"i": 99, "training_it\n'
    assert "torn last line" in err


def _empty_journal(exp, trial):
    open(exp / STATE / "journal.jsonl", "wb").close()


def _insert_line(raw):
    def corrupt(exp, trial):
        path = exp / STATE / "journal.jsonl"
        lines = path.read_bytes().split(b"\n")
        lines.insert(2, raw)
        path.write_bytes(b"\n".join(lines))
    return corrupt


def _delete(relative):
    def corrupt(exp, trial):
        os.remove(os.path.join(trial if relative == "result.json" else exp / STATE, relative))
    return corrupt


def _overwrite_snapshot(data):
    def corrupt(exp, trial):
        path = exp / STATE / "snapshot.pkl"
        path.write_bytes(data(path.read_bytes()))
    return corrupt


CORRUPTIONS = {
    "0-byte journal": (_empty_journal, "journal.jsonl is empty"),
    "garbage line": (_insert_line(b"#!garbage"), "journal.jsonl has an unreadable line 3"),
    "invalid UTF-8": (_insert_line(b'{"event":"status","trial_id":"\xff\xfe"}'), "journal.jsonl has an unreadable line 3"),
    "JSON that is no event": (_insert_line(b"[1, 2]"), "journal.jsonl has an unexpected line 3"),
    "undecodable event": (_insert_line(b'{"event":"trial_added","trial_id":"x","spec":"!!!"}'),
                          "unreadable 'trial_added' event on line 3"),
    # a journal line in the version-1 form (one-letter keys), read as its current name
    "undecodable old-form event": (_insert_line(b'{"e":"add","spec":"!!!"}'), "unreadable 'trial_added' event on line 3"),
    "deleted journal": (_delete("journal.jsonl"), "journal.jsonl is missing"),
    "deleted snapshot": (_delete("snapshot.pkl"), "snapshot.pkl is missing"),
    "garbage snapshot": (_overwrite_snapshot(lambda old: b"not a pickle"), "snapshot.pkl cannot be read"),
    "truncated snapshot": (_overwrite_snapshot(lambda old: old[: len(old) // 2]), "snapshot.pkl cannot be read"),
    "missing result.json": (_delete("result.json"), "result.json is missing"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_state_is_a_tune_error_naming_the_file_and_the_way_out(local, kind):
    exp = local / "exp"
    corrupt, message = CORRUPTIONS[kind]
    corrupt(exp, trial_dirs(exp)[0])
    before_dirs, before = trial_dirs(exp), histories(exp)
    code, out, err = run(local, ITERATIONS, resume="AUTO")
    assert code == 3, (out, err[-3000:])
    assert message in err and "resume=False" in err and "name=" in err
    assert "Traceback" not in err  # a TuneError, not a raw UnicodeDecodeError / UnpicklingError
    assert trial_dirs(exp) == before_dirs and histories(exp) == before  # nothing ran, nothing duplicated


@pytest.mark.timeout(60)
def test_the_named_way_out_works_after_a_corrupt_journal(local):
    _insert_line(b"#!garbage")(local / "exp", None)
    assert run(local, ITERATIONS, resume="AUTO")[0] == 3
    code, _out, err = run(local, ITERATIONS, resume="AUTO", name="exp2")
    assert code == 0, err[-3000:]
    assert_exact(local / "exp2", ITERATIONS)
    code, _out, err = run(local, ITERATIONS, resume=False)  # a new state in the same folder, old one kept
    assert code == 0, err[-3000:]
    assert any(n.endswith("_journal.jsonl") for n in os.listdir(local / "exp" / STATE))


@pytest.mark.timeout(60)
def test_analysis_reports_the_lines_it_skips(local):
    from tunelab import ExperimentAnalysis

    exp = local / "exp"
    assert run(local, ITERATIONS)[0] == 0
    trial_dir = trial_dirs(exp)[1]
    path = os.path.join(trial_dir, "result.json")
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    lines[5:5] = [b"garbage", b'{"i": \xff}']
    with open(path, "wb") as f:
        f.write(b"\n".join(lines))
    analysis = ExperimentAnalysis(str(exp))
    trial = next(t for t in analysis.trials if t.logdir == trial_dir)
    with pytest.warns(RuntimeWarning, match=r"result\.json: skipped 2 line\(s\)"):
        rows = analysis.history(trial)
    assert [r["i"] for r in rows] == list(range(1, ITERATIONS + 1))


@pytest.mark.timeout(60)
def test_cli_reports_the_lines_it_skips(local):
    import subprocess
    import sys

    exp = local / "exp"
    with open(os.path.join(trial_dirs(exp)[0], "result.json"), "ab") as f:
        f.write(b'{"i": 41, "tra')  # torn by the kill
    proc = subprocess.run([sys.executable, "-m", "tunelab.cli", "show", str(exp)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "result.json: skipped 1 line(s)" in proc.stderr


@pytest.mark.timeout(60)
def test_a_deleted_checkpoint_folder_rewinds_to_the_previous_one(local):
    exp = local / "exp"
    trial_dir = trial_dirs(exp)[0]
    newest = max(d for d in os.listdir(trial_dir) if d.startswith("checkpoint_"))
    shutil.rmtree(os.path.join(trial_dir, newest))
    code, _out, err = run(local, ITERATIONS)
    assert code == 0, err[-3000:]
    assert_exact(exp, ITERATIONS)


@pytest.mark.timeout(60)
def test_a_copied_experiment_resumes_in_its_new_place(local, tmp_path):
    """The journal holds absolute paths: the copy must not write into the original folder."""
    copy = tmp_path / "moved"
    shutil.copytree(local, copy)
    original = histories(local / "exp")
    code, _out, err = run(copy, ITERATIONS)
    assert code == 0, err[-3000:]
    assert_exact(copy / "exp", ITERATIONS)
    assert histories(local / "exp") == original  # the original is untouched
