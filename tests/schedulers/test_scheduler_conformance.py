"""Every scheduler against the same contract: any order of add -> result -> error -> complete -> remove
never crashes, decisions are valid, `choose_trial_to_run` is idempotent and only returns PENDING/PAUSED
trials, state survives a pickle round trip, and whole experiments always finish."""
import pickle

import pytest
from sched_testkit import DECISIONS, MockRunner, drive

from tunelab.error import TuneError
from tunelab.schedulers import (
    AsyncHyperBandScheduler, FIFOScheduler, HyperBandScheduler, MedianStoppingRule, PopulationBasedTraining,
    TrialScheduler,
)
from tunelab.trial import Trial

FACTORIES = {
    "fifo": lambda **kw: FIFOScheduler(),
    "median": lambda **kw: MedianStoppingRule(time_attr="training_iteration", grace_period=1, min_samples_required=1,
                                              **kw),
    "median_soft": lambda **kw: MedianStoppingRule(time_attr="training_iteration", grace_period=1,
                                                   min_samples_required=1, hard_stop=False, **kw),
    "hyperband": lambda **kw: HyperBandScheduler(max_t=9, **kw),
    "asha": lambda **kw: AsyncHyperBandScheduler(max_t=9, grace_period=1, reduction_factor=3, brackets=2, seed=0, **kw),
    "asha_promotion": lambda **kw: AsyncHyperBandScheduler(max_t=9, grace_period=1, reduction_factor=3, brackets=2,
                                                           type="promotion", seed=0, **kw),
    "pbt": lambda **kw: PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2,
                                                hyperparam_mutations={"lr": [0.1, 0.2, 0.3]}, seed=0, **kw),
    "pbt_synch": lambda **kw: PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2,
                                                      hyperparam_mutations={"lr": [0.1, 0.2, 0.3]}, synch=True,
                                                      seed=0, **kw),
}
OBJECTIVE = [name for name in FACTORIES if name != "fifo"]


def res(t, score, metric="episode_reward_mean"):
    return {"training_iteration": t, "time_total_s": float(t), metric: score}


def check_choice(scheduler, runner):
    chosen = scheduler.choose_trial_to_run(runner)
    assert scheduler.choose_trial_to_run(runner) is chosen  # idempotent
    assert chosen is None or chosen.status in (Trial.PENDING, Trial.PAUSED)
    return chosen


@pytest.mark.parametrize("name", FACTORIES)
def test_lifecycle_never_crashes(name):
    scheduler = FACTORIES[name]()
    runner = MockRunner(scheduler, capacity=3)
    trials = [runner.add_trial(Trial("t", {"lr": 0.2})) for _ in range(8)]
    check_choice(scheduler, runner)
    for step in range(1, 6):
        while (chosen := check_choice(scheduler, runner)) is not None and runner.has_resources(None):
            runner.launch(chosen)
        for i, trial in enumerate([t for t in trials if t.status == Trial.RUNNING]):
            decision = scheduler.on_trial_result(runner, trial, res(step, (i * 7 + step) % 5))
            assert decision in DECISIONS
            trial.last_result = res(step, 0)
            runner.process_action(trial, decision)
        check_choice(scheduler, runner)
        live = [t for t in trials if not t.is_finished()]
        if step == 2 and live:  # an error
            scheduler.on_trial_error(runner, live[0])
            live[0].status = Trial.ERROR
        if step == 3 and live[1:]:  # a completion
            scheduler.on_trial_complete(runner, live[1], res(step, 3))
            live[1].status = Trial.TERMINATED
        if step == 4:  # removals of a PENDING or PAUSED trial
            for trial in [t for t in trials if t.status in (Trial.PENDING, Trial.PAUSED)][:2]:
                runner.stop_trial(trial)
        check_choice(scheduler, runner)
        assert isinstance(scheduler.debug_string(), str)
    stranger = Trial("never_added")
    scheduler.on_trial_remove(runner, stranger)
    scheduler.on_trial_error(runner, stranger)
    scheduler.on_trial_complete(runner, stranger, res(1, 1))


@pytest.mark.parametrize("name", FACTORIES)
def test_state_round_trip(name):
    scheduler = FACTORIES[name]()
    runner = MockRunner(scheduler)
    trials = [runner.add_trial(Trial("t", {"lr": 0.1})) for _ in range(6)]
    for i, trial in enumerate(trials[:4]):
        runner.launch(trial)
        for t in (1, 2, 3):
            decision = scheduler.on_trial_result(runner, trial, res(t, i + t))
            trial.last_result = res(t, i + t)
            if decision != TrialScheduler.CONTINUE:
                runner.process_action(trial, decision)
                break
    state = pickle.loads(pickle.dumps(scheduler.save_state()))
    fresh = FACTORIES[name]()
    fresh.restore_state(state, {t.trial_id: t for t in trials})
    assert fresh.debug_string() == scheduler.debug_string()
    assert fresh.choose_trial_to_run(runner) is scheduler.choose_trial_to_run(runner)


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("workers", [1, 2])
def test_whole_experiment_finishes(name, workers):
    scheduler = FACTORIES[name]()
    trials = [Trial(str(i), {"lr": 0.2}) for i in range(25)]
    drive(scheduler, trials, lambda trial, t: (int(trial.trainable_name) * 13 % 25) * (1 - 0.5 ** t), 9, workers)
    assert all(t.is_finished() for t in trials)


@pytest.mark.parametrize("name", OBJECTIVE)
def test_missing_metric_raises_with_reported_keys(name):
    scheduler = FACTORIES[name]()
    runner = MockRunner(scheduler)
    trial = runner.add_trial(Trial("t", {"lr": 0.1}))
    runner.launch(trial)
    with pytest.raises(TuneError, match="mean_loss"):
        scheduler.on_trial_result(runner, trial, {"training_iteration": 1, "time_total_s": 1.0, "mean_loss": 1})


@pytest.mark.parametrize("name", OBJECTIVE)
def test_bad_mode_and_search_properties(name):
    with pytest.raises(TuneError, match="'maximum'"):
        FACTORIES[name](mode="maximum")
    scheduler = FACTORIES[name]()
    assert scheduler.set_search_properties("loss", "min")
    runner = MockRunner(scheduler)
    trial = runner.add_trial(Trial("t", {"lr": 0.1}))
    runner.launch(trial)
    assert scheduler.on_trial_result(runner, trial, res(1, 0.5, metric="loss")) in DECISIONS
    assert not FACTORIES[name](metric="acc", mode="max").set_search_properties("loss", "min")


def test_fifo_still_accepts_anything():
    assert FIFOScheduler().set_search_properties("whatever", "min")
    assert FIFOScheduler().save_state() == {}
