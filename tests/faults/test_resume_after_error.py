"""Resume in the same process after a driver-side error (a callback or the stop function raised): the
trials continue with fresh workers and end with exact histories; the stop criteria of the resuming call
win over the journaled ones, so "fix the cause and resume" works for a broken stop function too."""
import json
import os

import pytest

import tunelab as tune
from tunelab.trial import Trial


def counter(config):
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(start + 1, 31):
        tune.report({"i": i}, checkpoint=tune.Checkpoint.from_dict({"i": i}) if config["ckpt"] else None)


class BreakAt(tune.Callback):
    def __init__(self, iteration):
        self.iteration = iteration

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result["training_iteration"] == self.iteration:
            raise RuntimeError("callback bug")


def _history(trial):
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line)["i"] for line in f]


def _run(tmp_path, **kwargs):
    kwargs.setdefault("stop", {"training_iteration": 5})
    return tune.run(counter, name="err", local_dir=str(tmp_path), config={"a": tune.grid_search([1, 2]),
                    "ckpt": tune.grid_search([True, False])}, verbose=0, **kwargs)


@pytest.mark.timeout(60)
def test_resume_in_the_same_process_after_a_callback_error(tmp_path):
    with pytest.raises(tune.TuneError, match="callback bug"):
        _run(tmp_path, callbacks=[BreakAt(2)])
    analysis = _run(tmp_path, resume=True)
    assert len(analysis.trials) == 4 and {t.status for t in analysis.trials} == {Trial.TERMINATED}
    for trial in analysis.trials:
        assert _history(trial) == [1, 2, 3, 4, 5], trial.config


@pytest.mark.timeout(60)
def test_a_fixed_stop_function_is_used_on_resume(tmp_path):
    def broken_stop(trial_id, result):
        return result["training_iteration"] >= 3 and result["no_such_key"]

    with pytest.raises(tune.TuneError, match="no_such_key"):
        _run(tmp_path, stop=broken_stop)

    def fixed_stop(trial_id, result):
        return result["training_iteration"] >= 6

    analysis = _run(tmp_path, stop=fixed_stop, resume=True)
    for trial in analysis.trials:
        assert trial.status == Trial.TERMINATED
        assert _history(trial) == [1, 2, 3, 4, 5, 6], trial.config


@pytest.mark.timeout(60)
def test_the_resuming_calls_stop_criteria_win(tmp_path):
    with pytest.raises(tune.TuneError, match="callback bug"):
        _run(tmp_path, callbacks=[BreakAt(2)], stop={"training_iteration": 3})
    analysis = _run(tmp_path, resume=True, stop={"training_iteration": 7})
    assert [_history(t) for t in analysis.trials] == [list(range(1, 8))] * 4
