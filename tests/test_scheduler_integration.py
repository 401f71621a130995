"""Schedulers driving real trials through the controller (the algorithms themselves are tested in
tests/schedulers)."""
import pytest

import tunelab as tune
from tunelab.schedulers import (AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule,
                                PopulationBasedTraining)
from tunelab.trial import Trial


class Curve(tune.Trainable):
    """score(t) = q * t: higher q is better at every step (a friendly curve)."""

    def setup(self, config):
        self.t = 0

    def step(self):
        self.t += 1
        return {"score": self.config["q"] * self.t}

    def save_checkpoint(self, checkpoint_dir):
        return {"t": self.t}

    def load_checkpoint(self, state):
        self.t = state["t"]

    def reset_config(self, new_config):
        self.config = new_config
        return True


class NoSave(tune.Trainable):
    def step(self):
        return {"score": 1}


def _run(scheduler, samples=8, max_t=9, **kwargs):
    return tune.run(Curve, config={"q": tune.uniform(0, 1)}, num_samples=samples, stop={"training_iteration": max_t},
                    scheduler=scheduler, metric="score", mode="max", verbose=0, **kwargs)


def test_asha_stops_bad_trials_early():
    analysis = _run(AsyncHyperBandScheduler(max_t=9, grace_period=1, reduction_factor=3, brackets=1), samples=12)
    iterations = [t.last_result["training_iteration"] for t in analysis.trials]
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)
    assert min(iterations) < 9 and max(iterations) == 9
    assert sum(iterations) < 12 * 9


def test_asha_promotion_pauses_and_resumes_from_checkpoints():
    analysis = _run(AsyncHyperBandScheduler(max_t=9, grace_period=1, reduction_factor=3, brackets=1, type="promotion"), samples=9)
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)
    best = max(analysis.trials, key=lambda t: t.config["q"])
    assert best.last_result["training_iteration"] == 9
    assert best.last_result["score"] == pytest.approx(best.config["q"] * 9)


def test_hyperband_completes_and_halves():
    analysis = _run(HyperBandScheduler(max_t=9), samples=10)
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)
    for trial in analysis.trials:  # paused/resumed trials keep their state: score stays q * t
        assert trial.last_result["score"] == pytest.approx(trial.config["q"] * trial.last_result["training_iteration"])


def test_median_stopping_rule_runs():
    analysis = _run(MedianStoppingRule(time_attr="training_iteration", grace_period=2, min_samples_required=2),
                    samples=8)
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)


def test_pbt_exploits_with_reset_config():
    scheduler = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2,
                                        hyperparam_mutations={"q": tune.uniform(0, 1)}, seed=0)
    analysis = tune.run(Curve, config={"q": tune.grid_search([0.1, 0.2, 0.8, 0.9])}, stop={"training_iteration": 10},
                        scheduler=scheduler, metric="score", mode="max", verbose=0)
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)
    assert any("@perturbed" in t.experiment_tag for t in analysis.trials)
    assert scheduler.exploit_log


def test_scheduler_needing_checkpoints_rejects_trainable_that_cannot_save():
    with pytest.raises(tune.TuneError, match="NoSave"):
        tune.run(NoSave, scheduler=HyperBandScheduler(max_t=9), metric="score", mode="max", verbose=0)


def test_scheduler_metric_missing_names_reported_keys():
    with pytest.raises(tune.TuneError, match="score"):
        tune.run(Curve, config={"q": 0.5}, stop={"training_iteration": 3},
                 scheduler=AsyncHyperBandScheduler(max_t=9), metric="accuracy", mode="max", verbose=0)


def test_pausing_a_trial_without_checkpoint_warns():
    from tunelab.schedulers import ASHAScheduler

    def no_checkpoints(config):
        for i in range(9):
            tune.report(score=config["x"] * (i + 1))

    with pytest.warns(RuntimeWarning, match="no checkpoint"):
        tune.run(no_checkpoints, config={"x": tune.grid_search([3, 2, 1])}, metric="score", mode="max",
                 scheduler=ASHAScheduler(max_t=9, grace_period=1, reduction_factor=3, type="promotion"), verbose=0)
