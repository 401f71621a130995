"""Callbacks see frozen views of the trials, never the controller's mutable records."""
import pytest

import tunelab as tune
from tunelab.trial import Trial
from tunelab.trial_view import TrialView


def train(config):
    for i in range(3):
        tune.report({"score": config["x"] * i})


class Recorder(tune.Callback):
    def __init__(self):
        self.seen = []

    def _record(self, hook, trials, trial):
        self.seen.append((hook, type(trial), {type(t) for t in trials}, len(trials), trial.status))

    def on_trial_start(self, iteration, trials, trial, **info):
        self._record("start", trials, trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._record("result", trials, trial)
        assert trial.last_result["score"] == result["score"]  # the view already holds this result
        with pytest.raises(AttributeError):
            trial.status = "TERMINATED"  # read-only

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._record("complete", trials, trial)

    def on_experiment_end(self, trials, **info):
        self._record("end", trials, trials[-1])
        assert [t.trial_id for t in trials[:]] == [t.trial_id for t in trials]


def test_callbacks_get_trial_views(tmp_path):
    recorder = Recorder()
    analysis = tune.run(train, config={"x": tune.grid_search([1, 2])}, local_dir=str(tmp_path), callbacks=[recorder],
                        verbose=0)
    assert all(t.status == "TERMINATED" for t in analysis.trials)
    hooks = [hook for hook, *_ in recorder.seen]
    assert hooks.count("start") == 2 and hooks.count("result") == 6 and hooks.count("complete") == 2
    assert hooks[-1] == "end"
    for hook, trial_type, trials_types, count, status in recorder.seen:
        assert trial_type is TrialView and trials_types == {TrialView}, hook
        assert Trial not in trials_types
    completes = [status for hook, _, _, _, status in recorder.seen if hook == "complete"]
    assert completes == ["TERMINATED", "TERMINATED"]
