"""The experiment says so while storage is behind: `Storage is behind:` lines in the status block and the
live table (from Controller.storage_problems), and a console warning with where the results are."""
from __future__ import annotations

import io
import os
import shutil
import time

import tunelab as tune
from tunelab.progress import ProgressReporter, status_text
from tunelab.storage import remote, sync
from tunelab.trial import Trial

PROBLEM = "storage s3://b/p/exp: StorageError: could not upload (results are kept in /r/exp)"


def test_status_text_shows_storage_problems_after_the_result_folders():
    text = status_text([], "Using FIFO scheduling algorithm.", "", ["/r/exp"], storage_problems=[PROBLEM])
    lines = text.splitlines()
    assert lines[lines.index("Result logdir: /r/exp") + 1] == f"Storage is behind: {PROBLEM}"
    assert "Storage is behind" not in status_text([], "", "", ["/r/exp"])


def test_live_table_shows_storage_problems():
    out = io.StringIO()
    reporter = ProgressReporter(verbose=1, out=out, live=True)
    trial = Trial("f", {}, experiment_tag="0")
    trial.status = Trial.RUNNING
    reporter.report([trial], done=True, info={"scheduler_debug": "x", "storage_problems": [PROBLEM]})
    assert "Storage is behind: storage s3://b/p/exp" in out.getvalue()


class _BreakStorage(tune.Callback):
    """Replaces the storage folder with a file at the 3rd result: every later copy to it fails."""

    def __init__(self, storage_root: str):
        self.storage_root = storage_root

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result["training_iteration"] == 3:
            shutil.rmtree(self.storage_root)
            with open(self.storage_root, "w") as f:
                f.write("not a folder")


def _slow(config):
    for i in range(25):
        time.sleep(0.08)
        tune.report({"i": i})


def test_local_storage_failing_mid_run_is_shown_and_results_stay_local(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(remote, "RETRIES", 1)
    monkeypatch.setattr(sync, "SYNC_PERIOD_S", 0.1)
    monkeypatch.setenv("TUNELAB_STATUS_INTERVAL_S", "0.2")
    storage_root = str(tmp_path / "storage")
    analysis = tune.run(_slow, name="exp", local_dir=str(tmp_path / "results"), storage_path=storage_root,
                        callbacks=[_BreakStorage(storage_root)], verbose=1)
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED]
    captured = capsys.readouterr()
    assert "Storage is behind: storage " + os.path.join(storage_root, "exp") in captured.out
    assert "results stay in" in captured.err and "is not up to date" in captured.err
    with open(os.path.join(analysis.trials[0].logdir, "result.json")) as f:
        assert len(f.readlines()) == 25  # every result on local disk
    assert os.path.isfile(storage_root)  # nothing re-created a folder in its place
