"""Schedulers see frozen views: inside an experiment every trial a scheduler hook is handed (the event's trial,
`runner.get_trials()`, `restore_state`'s trials) is a `TrialView`, never the controller's mutable `Trial`,
and what a built-in scheduler returns from `choose_trial_to_run` or keeps in its state is a view too.
Driven through the controller with the in-memory executor of test_controller_fake_executor."""
from __future__ import annotations

import os
import sys

import pytest

from tunelab.schedulers import (
    AsyncHyperBandScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
)
from tunelab.trial import Trial
from tunelab.trial_view import TrialView

sys.path.insert(0, os.path.dirname(__file__))
from test_controller_fake_executor import make_trials, run


def checked(cls: type) -> type:
    """`cls` with every hook checking that it gets only views, and counting the calls."""

    class Checked(cls):  # type: ignore[misc, valid-type]
        def _check(self, runner, *trials) -> None:
            self.calls = getattr(self, "calls", 0) + 1
            for trial in list(trials) + list(runner.get_trials()):
                assert type(trial) is TrialView, f"{cls.__name__} was handed a {type(trial).__name__}"

        def on_trial_add(self, runner, trial):
            self._check(runner, trial)
            return super().on_trial_add(runner, trial)

        def on_trial_result(self, runner, trial, result):
            self._check(runner, trial)
            self.results = getattr(self, "results", 0) + 1
            return super().on_trial_result(runner, trial, result)

        def on_trial_complete(self, runner, trial, result):
            self._check(runner, trial)
            return super().on_trial_complete(runner, trial, result)

        def on_trial_error(self, runner, trial):
            self._check(runner, trial)
            return super().on_trial_error(runner, trial)

        def on_trial_remove(self, runner, trial):
            self._check(runner, trial)
            return super().on_trial_remove(runner, trial)

        def choose_trial_to_run(self, runner):
            self._check(runner)
            chosen = super().choose_trial_to_run(runner)
            assert chosen is None or type(chosen) is TrialView
            return chosen

    Checked.__name__ = cls.__name__
    return Checked


def _objects(value, depth=0):
    """Every object reachable from `value` through containers and attributes (a few levels deep)."""
    yield value
    if depth > 6 or isinstance(value, (str, bytes, int, float, TrialView)):
        return
    if isinstance(value, dict):
        children = list(value.keys()) + list(value.values())
    elif isinstance(value, (list, tuple, set)):
        children = list(value)
    elif hasattr(value, "items") and callable(value.items):
        children = [x for pair in value.items() for x in pair]
    else:
        children = list(getattr(value, "__dict__", {}).values())
        children += [getattr(value, s) for s in getattr(type(value), "__slots__", ()) if hasattr(value, s)]
    for child in children:
        yield from _objects(child, depth + 1)


SCHEDULERS = {
    "fifo": lambda: checked(FIFOScheduler)(),
    "median": lambda: checked(MedianStoppingRule)(time_attr="training_iteration", grace_period=1,
                                                  min_samples_required=1),
    "median_soft": lambda: checked(MedianStoppingRule)(time_attr="training_iteration", grace_period=1,
                                                       min_samples_required=1, hard_stop=False),
    "hyperband": lambda: checked(HyperBandScheduler)(max_t=9, reduction_factor=3),
    "asha": lambda: checked(AsyncHyperBandScheduler)(max_t=9, grace_period=1, reduction_factor=3, brackets=1, seed=0),
    "asha_promotion": lambda: checked(AsyncHyperBandScheduler)(max_t=9, grace_period=1, reduction_factor=3,
                                                               brackets=1, type="promotion", seed=0),
    "pbt": lambda: checked(PopulationBasedTraining)(time_attr="training_iteration", perturbation_interval=2,
                                                    hyperparam_mutations={"x": [1, 2, 3, 4, 5, 6], "lr": [0.1, 0.2]},
                                                    seed=0),
    "pbt_synch": lambda: checked(PopulationBasedTraining)(time_attr="training_iteration", perturbation_interval=2,
                                                          hyperparam_mutations={"x": [1, 2, 3, 4, 5, 6]}, synch=True,
                                                          seed=0),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_built_in_schedulers_get_and_keep_only_views(tmp_path, name):
    scheduler = SCHEDULERS[name]()
    trials = make_trials(tmp_path, [6, 1, 5, 2, 4, 3], stop=9)
    controller, _ = run(tmp_path, scheduler, trials, cpus=2)
    assert all(t.status == Trial.TERMINATED for t in trials)
    assert scheduler.results >= len(trials) and scheduler.calls > scheduler.results
    kept = [type(x).__name__ for x in _objects(vars(scheduler)) if isinstance(x, Trial)]
    assert not kept, f"{name} keeps mutable trials: {kept}"
    assert isinstance(scheduler.debug_string(), str)


def test_pbt_fills_a_missing_mutated_key_through_an_action(tmp_path):
    """PBT samples the `lr` the configs lack: the controller applies it (SetConfig) to its own trial."""
    scheduler = SCHEDULERS["pbt"]()
    trials = make_trials(tmp_path, [1, 2], stop=3)
    controller, _ = run(tmp_path, scheduler, trials, cpus=2)
    for trial in trials:
        assert trial.config["lr"] in (0.1, 0.2)
        assert controller.trial_view(trial.trial_id).config["lr"] == trial.config["lr"]


def test_a_view_reads_like_its_trial(tmp_path):
    trial = make_trials(tmp_path, [1])[0]
    trial.experiment_tag = "0_x=1"
    view = TrialView.of(trial)
    assert str(view) == str(trial) == repr(view)
    assert (view.trial_id, view.status, view.config, view.resources) == (trial.trial_id, trial.status, trial.config,
                                                                         trial.resources)
    assert not view.is_finished() and not view.has_checkpoint()
    trial.status = Trial.TERMINATED
    newer = TrialView.of(trial)
    assert view.status == Trial.PENDING and newer.is_finished()  # a view is a snapshot
    assert newer == view and hash(newer) == hash(view) and {view: 1}[newer] == 1  # one trial: one key
    with pytest.raises(AttributeError):
        view.status = Trial.RUNNING  # type: ignore[misc]
