"""Trial checkpoints, recovery from crashed trials (real SIGKILLs of workers), pause/unpause, and the
resume modes of an experiment."""
import json
import os

import pytest

import tunelab as tune
from tunelab import Trainable, TuneError
from tunelab.schedulers import FIFOScheduler, TrialScheduler
from tunelab.trial import Trial


class Counter(Trainable):
    def setup(self, config):
        self.count = 0

    def step(self):
        self.count += 1
        marker = self.config.get("die_at_marker")
        if marker and self.count == self.config["die_at"] and not os.path.exists(marker):
            open(marker, "w").close()
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        if self.config.get("raise_at") == self.count:
            raise RuntimeError("transient failure")
        return {"count": self.count, "timesteps_this_iter": 10}

    def save_checkpoint(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "state.json")
        with open(path, "w") as f:
            json.dump({"count": self.count}, f)
        return path

    def load_checkpoint(self, path):
        with open(path) as f:
            self.count = json.load(f)["count"]


def _history(trial, key="training_iteration"):
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line)[key] for line in f]


def test_worker_sigkill_recovers_from_checkpoint(tmp_path):
    marker = str(tmp_path / "died")
    analysis = tune.run(Counter, config={"die_at_marker": marker, "die_at": 7}, stop={"training_iteration": 12},
                        checkpoint_freq=5, max_failures=2, verbose=0)
    [trial] = analysis.trials
    assert trial.status == Trial.TERMINATED and trial.num_failures == 1
    assert _history(trial) == list(range(1, 13))            # no gap, no duplicate
    assert _history(trial, "count") == list(range(1, 13))   # state restored from checkpoint 5
    since = _history(trial, "iterations_since_restore")
    assert since[:5] == [1, 2, 3, 4, 5] and since[5:] == [1, 2, 3, 4, 5, 6, 7]  # iteration 6 was redone
    assert _history(trial, "timesteps_since_restore")[4:6] == [50, 10]
    assert _history(trial, "timesteps_total")[4:6] == [50, 60]
    assert "SIGKILL" in open(trial.error_file).read()


def test_raise_past_max_failures_is_error_with_every_traceback():
    analysis = tune.run(Counter, config={"raise_at": 2}, stop={"training_iteration": 5}, max_failures=2,
                        verbose=0, raise_on_failed_trial=False)
    [trial] = analysis.trials
    assert trial.status == Trial.ERROR and trial.num_failures == 3
    text = open(trial.error_file).read()
    assert text.count("RuntimeError: transient failure") == 3


def test_recovery_without_checkpoint_restarts_from_scratch():
    analysis = tune.run(Counter, config={"raise_at": 3}, stop={"training_iteration": 2}, max_failures=1, verbose=0)
    assert analysis.trials[0].status == Trial.TERMINATED


def test_checkpoint_at_end_keep_num_and_restore(tmp_path):
    analysis = tune.run(Counter, stop={"training_iteration": 9}, checkpoint_freq=2, checkpoint_at_end=True,
                        keep_checkpoints_num=2, checkpoint_score_attr="count", metric="count", mode="max",
                        verbose=0)
    [trial] = analysis.trials
    kept = sorted(d for d in os.listdir(trial.logdir) if d.startswith("checkpoint_"))
    assert kept == ["checkpoint_8", "checkpoint_9"]
    assert trial.checkpoint.path.endswith("checkpoint_9")
    assert analysis.best_checkpoint is not None and os.path.isdir(analysis.best_checkpoint.path)
    restored = tune.run(Counter, stop={"training_iteration": 12}, restore=trial.checkpoint.path, verbose=0)
    assert restored.trials[0].last_result["count"] == 12


def test_save_restore_objects_roundtrip(tmp_path):
    model = Counter({}, logdir=str(tmp_path))
    model.train()
    model.train()
    path = model.save()
    blob = model.save_to_object()
    model.train()
    assert model.count == 3
    model.restore(path)
    assert model.count == 2 and model.iteration == 2
    other = Counter({}, logdir=str(tmp_path / "other"))
    other.restore_from_object(blob)
    assert other.count == 2
    assert other.train()["training_iteration"] == 3


class PauseOnce(FIFOScheduler):
    """Pauses every trial once at iteration 2 and lets it resume."""

    def __init__(self):
        self.paused = set()

    def on_trial_result(self, runner, trial, result):
        if result["training_iteration"] == 2 and trial.trial_id not in self.paused:
            self.paused.add(trial.trial_id)
            return TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE


def test_pause_then_resume_keeps_state(fresh_executor):
    tune.init(num_cpus=1)
    analysis = tune.run(Counter, config={"x": tune.grid_search([1, 2])}, stop={"training_iteration": 4},
                        scheduler=PauseOnce(), verbose=0)
    for trial in analysis.trials:
        assert trial.status == Trial.TERMINATED
        assert _history(trial) == [1, 2, 3, 4] and _history(trial, "count") == [1, 2, 3, 4]


def test_resume_modes_and_spec_mismatch():
    def flaky(config):
        tune.report(score=config["x"])
        if config["x"] == 2:
            raise ValueError("fails")

    with pytest.raises(TuneError, match="no experiment state"):
        tune.run(flaky, name="modes", config={"x": tune.grid_search([1, 2])}, resume=True, verbose=0)
    first = tune.run(flaky, name="modes", config={"x": tune.grid_search([1, 2])}, verbose=0,
                     raise_on_failed_trial=False)
    assert sorted(t.status for t in first.trials) == ["ERROR", "TERMINATED"]
    again = tune.run(flaky, name="modes", config={"x": tune.grid_search([1, 2])}, resume=True, verbose=0,
                     raise_on_failed_trial=False)
    assert [t.trial_id for t in again.trials] == [t.trial_id for t in first.trials]  # nothing ran twice
    assert sorted(t.status for t in again.trials) == ["ERROR", "TERMINATED"]

    def fixed(config):
        tune.report(score=config["x"])

    tune.register_trainable("flaky", fixed)
    rerun = tune.run("flaky", name="modes", config={"x": tune.grid_search([1, 2])}, resume="RESTART_ERRORED",
                     verbose=0)
    assert sorted(t.status for t in rerun.trials) == ["TERMINATED", "TERMINATED"]
    with pytest.raises(TuneError, match="search space changed"):
        tune.run("flaky", name="modes", config={"x": tune.grid_search([1, 2, 3])}, resume=True, verbose=0)
    with pytest.raises(TuneError, match="resume="):
        tune.run("flaky", name="modes", resume="sometimes", verbose=0)


def test_callback_error_stops_cleanly_and_resumes():
    class Broken(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if result["training_iteration"] == 3:
                raise OSError("disk full")

    with pytest.raises(TuneError, match="disk full") as err:
        tune.run(Counter, name="cb", stop={"training_iteration": 5}, checkpoint_freq=1, callbacks=[Broken()],
                 verbose=0)
    assert "resume" in str(err.value)
    analysis = tune.run(Counter, name="cb", stop={"training_iteration": 5}, checkpoint_freq=1, resume=True, verbose=0)
    [trial] = analysis.trials
    assert trial.status == Trial.TERMINATED
    assert _history(trial) == [1, 2, 3, 4, 5]
