"""Storage in a folder (an NFS mount, say), with trials working in node-local scratch folders: nothing but
storage is shared between the machine that starts an experiment and the one that finishes it."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import tunelab as tune
from tunelab.storage.layout import CHECKPOINT_METADATA_FILE, JOURNAL_FILE, SCRATCH_DIR_ENV, STATE_DIR
from tunelab.storage.remote import Storage
from tunelab.storage.trial_files import TrialFiles

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "storage_driver.py")


def _driver(local_dir, storage, iterations, resume, scratch):
    env = dict(os.environ, TUNELAB_SYNC_PERIOD_S="0.3", **{SCRATCH_DIR_ENV: str(scratch)})
    return subprocess.Popen([sys.executable, DRIVER, str(local_dir), str(storage), str(iterations), resume],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _results(exp_dir):
    """trial folder name -> its results, from result.json files under `exp_dir`."""
    found = {}
    for name in sorted(os.listdir(exp_dir)):
        path = os.path.join(exp_dir, name, "result.json")
        if os.path.exists(path):
            with open(path) as f:
                found[name] = [json.loads(line) for line in f if line.strip()]
    return found


def test_a_new_machine_resumes_from_storage_after_the_driver_is_killed(tmp_path):
    storage, iterations = tmp_path / "storage", 40
    first = _driver(tmp_path / "machine1", storage, iterations, "0", tmp_path / "scratch1")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once storage holds a few checkpoints of some trial
        if len(list(storage.glob("exp/*/checkpoint_*/" + CHECKPOINT_METADATA_FILE))) >= 2 and \
                sum(len(r) for r in _results(storage / "exp").values()) >= 8:
            break
        assert first.poll() is None, first.communicate()[1][-2000:]
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    import shutil

    shutil.rmtree(tmp_path / "machine1")  # the first machine is gone: its local_dir and scratch
    shutil.rmtree(tmp_path / "scratch1")
    before = _results(storage / "exp")
    assert before and all(len(rows) < iterations for rows in before.values())

    second = _driver(tmp_path / "machine2", storage, iterations, "1", tmp_path / "scratch2")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err[-3000:]
    assert "STATUSES TERMINATED TERMINATED TERMINATED" in out
    after = _results(storage / "exp")
    assert len(after) == 3
    for name, rows in after.items():
        assert [r["training_iteration"] for r in rows] == list(range(1, iterations + 1)), name  # gap-free
        if len(before.get(name, [])) >= 2:  # it had a checkpoint in storage: restored, not restarted
            assert rows[-1]["resumed_from"] > 0, name
    # the new machine worked in its own folders; storage kept only the retained checkpoints
    assert (tmp_path / "machine2" / "exp" / STATE_DIR / JOURNAL_FILE).exists()
    for trial_dir in (storage / "exp").iterdir():
        if trial_dir.name != STATE_DIR:
            assert len(list(trial_dir.glob("checkpoint_*"))) <= 2, list(trial_dir.iterdir())


class Counter(tune.Trainable):
    def setup(self, config):
        self.count = 0

    def step(self):
        self.count += 1
        return {"count": self.count}

    def save_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "count"), "w") as f:
            f.write(str(self.count))

    def load_checkpoint(self, checkpoint_dir):
        with open(os.path.join(checkpoint_dir, "count")) as f:
            self.count = int(f.read())


def test_class_checkpoints_go_to_storage_with_retention(tmp_path, monkeypatch, fresh_executor):
    monkeypatch.setenv(SCRATCH_DIR_ENV, str(tmp_path / "scratch"))
    tune.init()  # new worker processes, which inherit it
    analysis = tune.run(Counter, name="cls", local_dir=str(tmp_path / "local"), storage_path=str(tmp_path / "s"),
                        stop={"training_iteration": 6}, checkpoint_freq=1, keep_checkpoints_num=2,
                        checkpoint_score_attr="count", verbose=0)
    trial = analysis.trials[0]
    assert trial.status == "TERMINATED"
    stored = sorted(p.name for p in (tmp_path / "s" / "cls").glob("*/checkpoint_*"))
    assert stored == ["checkpoint_4", "checkpoint_5"]  # the 6th iteration stops it: no checkpoint_freq save
    assert (tmp_path / "s" / "cls" / os.path.basename(trial.logdir) / "checkpoint_5" / "count").read_text() == "5"
    # the trial worked in scratch; the driver's folder has the results but no checkpoint
    assert not list((tmp_path / "local" / "cls").glob("*/checkpoint_*"))
    assert list((tmp_path / "scratch" / "cls").glob("*/checkpoint_5"))


def test_local_storage_path_without_local_dir_is_the_results_folder(tmp_path):
    analysis = tune.run(Counter, name="here", storage_path=str(tmp_path / "s"), stop={"training_iteration": 2},
                        verbose=0)
    assert analysis.trials[0].logdir.startswith(str(tmp_path / "s" / "here"))
    assert tune.Experiment("e", Counter, storage_path=str(tmp_path / "s")).storage is None  # nothing to copy


def test_trial_files_map_scratch_and_fetch_from_storage(tmp_path, monkeypatch):
    exp, storage = tmp_path / "driver" / "exp", Storage(str(tmp_path / "store" / "exp"))
    files = TrialFiles(str(exp), str(exp / "t1"), storage)
    monkeypatch.setenv(SCRATCH_DIR_ENV, str(tmp_path / "node"))
    local = files.local_path(str(exp / "t1" / "checkpoint_3"))
    assert local == str(tmp_path / "node" / "exp" / "t1" / "checkpoint_3")
    assert files.canonical_path(local) == str(exp / "t1" / "checkpoint_3")
    os.makedirs(local)
    for name, text in (("weights", "w3"), (CHECKPOINT_METADATA_FILE, "m")):
        with open(os.path.join(local, name), "w") as f:
            f.write(text)
    assert files.persist_checkpoint(local) == str(exp / "t1" / "checkpoint_3")
    assert (tmp_path / "store" / "exp" / "t1" / "checkpoint_3" / "weights").read_text() == "w3"
    monkeypatch.setenv(SCRATCH_DIR_ENV, str(tmp_path / "other_node"))  # another node: not there, downloaded
    fetched = TrialFiles(str(exp), str(exp / "t1"), storage).fetch_checkpoint(str(exp / "t1" / "checkpoint_3"))
    assert fetched == str(tmp_path / "other_node" / "exp" / "t1" / "checkpoint_3")
    assert open(os.path.join(fetched, "weights")).read() == "w3"
    outside = str(tmp_path / "user_ckpt")  # a restore= path outside the experiment is used where it is
    assert files.fetch_checkpoint(outside) == outside


def test_unwritable_storage_is_refused_before_any_trial(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(tune.TuneError, match="cannot be written"):
        tune.run(Counter, name="x", local_dir=str(tmp_path / "l"), storage_path=str(blocker / "sub"),
                 stop={"training_iteration": 1}, verbose=0)
    assert not list((tmp_path / "l").rglob("result.json"))


def test_cli_reads_an_experiment_from_storage(tmp_path, capsys):
    """`tunelab show <uri>` on a machine without the experiment: its results come from storage (the in-process
    memory:// filesystem stands in for S3 here; tests/storage/test_s3_storage.py uses a real S3 server)."""
    from tunelab.cli import main

    analysis = tune.run(Counter, name="cli", local_dir=str(tmp_path), stop={"training_iteration": 3}, verbose=0)
    storage = Storage("memory://bucket/prefix/cli")
    storage.put_dir(str(tmp_path / "cli"), "")
    assert main(["show", storage.uri]) == 0
    out = capsys.readouterr().out
    assert "Number of trials: 1 (1 TERMINATED)" in out and f"{analysis.trials[0]}:\tTERMINATED" in out
    assert "3 iter" in out
