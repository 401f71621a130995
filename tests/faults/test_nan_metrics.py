"""NaN and infinite metric values count as the worst possible value (tunelab.metrics) in every scheduler,
searcher and "best" computation; a metric that is not a number at all fails only its own trial.

Rung/median arithmetic is checked by driving the schedulers directly; the rest with real tune.run calls.
"""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import tunelab as tune
from tunelab import metrics
from tunelab.analysis import best_result
from tunelab.schedulers import (
    ASHAScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    TrialScheduler,
)
from tunelab.trial import Trial

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "schedulers"))
from sched_testkit import MockRunner, drive

UNUSABLE = [math.nan, math.inf, -math.inf]


def test_the_one_rule_for_metric_values():
    assert metrics.is_usable(3) and metrics.is_usable(np.float32(1.5)) and metrics.is_usable(-2.0)
    for value in UNUSABLE + ["3", None, True, [1]]:
        assert not metrics.is_usable(value), value
    for mode in ("min", "max"):
        assert all(metrics.score(v, mode) == metrics.WORST_SCORE for v in UNUSABLE + ["x"])
        assert metrics.score(-1e300, mode) > metrics.WORST_SCORE
    assert metrics.score(2, "min") == -2.0 and metrics.score(2, "max") == 2.0
    assert metrics.worst_value("min") == math.inf and metrics.worst_value("max") == -math.inf


def _trials(n):
    return [Trial(str(i)) for i in range(n)]


def _iterations(runner):
    return {t.trainable_name: t.last_result["training_iteration"] for t in runner.trials}


@pytest.mark.parametrize("mode", ["max", "min"])
@pytest.mark.parametrize("bad", UNUSABLE)
def test_asha_stops_an_unusable_trial_and_keeps_the_cutoff(mode, bad):
    """Trials run one after the other, best first; trial 0 reports only `bad`. It is stopped at the first
    rung and exactly one trial (the best usable one) runs to max_t; no rung cutoff is NaN."""
    sign = 1 if mode == "max" else -1
    sched = ASHAScheduler(metric="episode_reward_mean", mode=mode, max_t=8, grace_period=1, reduction_factor=2)
    values = {0: bad, **{k: sign * (8 - k) for k in range(1, 8)}}
    runner = drive(sched, _trials(8), lambda trial, t: values[int(trial.trainable_name)], max_t=8)
    reached = _iterations(runner)
    assert reached["0"] == 1
    assert [name for name, it in reached.items() if it == 8] == ["1"]
    for rung in sched._brackets[0].rungs:
        cutoff = rung.cutoff(2)
        assert cutoff is None or not math.isnan(cutoff)
    assert "nan" not in sched.debug_string()


def test_asha_stops_a_trial_whose_metric_turns_nan_at_a_rung():
    sched = ASHAScheduler(metric="episode_reward_mean", mode="max", max_t=8, grace_period=1, reduction_factor=2)
    runner = drive(sched, _trials(2), lambda trial, t: 1.0 if trial.trainable_name == "0" or t < 2 else math.nan,
                   max_t=8)
    assert _iterations(runner) == {"0": 8, "1": 2}


def test_asha_promotion_never_promotes_nan_and_finishes():
    sched = ASHAScheduler(metric="episode_reward_mean", mode="max", max_t=4, grace_period=1, reduction_factor=2,
                          type="promotion")
    runner = drive(sched, _trials(6), lambda trial, t: math.nan if int(trial.trainable_name) % 2 else
                   float(trial.trainable_name), max_t=4, workers=2)
    reached = _iterations(runner)
    assert all(reached[str(i)] == 1 for i in (1, 3, 5))
    assert max(reached.values()) == 4 and all(t.is_finished() for t in runner.trials)


def test_median_stops_a_nan_only_trial_after_grace_even_without_a_median():
    sched = MedianStoppingRule(time_attr="training_iteration", metric="episode_reward_mean", mode="max",
                               grace_period=2, min_samples_required=3)
    runner = drive(sched, _trials(1), lambda trial, t: math.nan, max_t=10)
    assert _iterations(runner) == {"0": 3}


def test_median_one_nan_result_does_not_poison_the_median():
    """Trial 0 reports NaN once, then 10s, and completes; its mean stays 10 (not -inf), so trial 1 with 1s
    is below the median and stopped right after the grace period."""
    sched = MedianStoppingRule(time_attr="training_iteration", metric="episode_reward_mean", mode="max",
                               grace_period=1, min_samples_required=1)
    runner = drive(sched, _trials(3), lambda trial, t: {"0": math.nan if t == 1 else 10.0, "1": 1.0,
                                                         "2": 20.0}[trial.trainable_name], max_t=5)
    assert _iterations(runner) == {"0": 5, "1": 2, "2": 5}
    assert sched._median_until(5) == 15.0  # the mean of trial 0 (10, its NaN left out) and of trial 2 (20)


def test_hyperband_ranks_nan_last():
    """max_t=9, rf=3: trials 0-4 fill a bracket without halving, 5-12 one that keeps 3 of 8 at r=3. Trials
    5-8 report NaN: they are the ones cut, with the worst usable one (12, minimising)."""
    sched = HyperBandScheduler(metric="episode_reward_mean", mode="min", max_t=9, reduction_factor=3)
    runner = drive(sched, _trials(13), lambda trial, t: math.nan if 5 <= int(trial.trainable_name) <= 8 else
                   float(trial.trainable_name), max_t=9, workers=13)
    reached = _iterations(runner)
    assert [reached[str(i)] for i in range(5, 13)] == [3, 3, 3, 3, 9, 9, 9, 3]


def test_pbt_never_clones_a_nan_trial():
    sched = PopulationBasedTraining(time_attr="training_iteration", metric="episode_reward_mean", mode="max",
                                    perturbation_interval=1, hyperparam_mutations={"lr": [0.1, 0.2]}, seed=0)
    runner = MockRunner(sched)
    trials = [runner.add_trial(Trial("t", config={"lr": 0.1})) for _ in range(4)]
    for step in (1, 2, 3):
        for i, trial in enumerate(trials):
            runner.launch(trial)
            value = math.nan if i < 3 else 5.0  # three NaN trials: more than the top quantile
            action = sched.on_trial_result(runner, trial, dict(training_iteration=step, episode_reward_mean=value))
            runner.process_action(trial, action)
            trial.last_result = dict(training_iteration=step)
    donors = {entry["donor_id"] for entry in sched.exploit_log} if hasattr(sched, "exploit_log") else set()
    assert trials[0].trial_id not in donors and trials[1].trial_id not in donors and trials[2].trial_id not in donors
    _, upper = sched._quantiles()
    assert upper and all(sched._trial_state[t].last_score != metrics.WORST_SCORE for t in upper)


def test_best_result_skips_unusable_values():
    results = [{"m": math.nan}, {"m": math.inf}, {"m": 2.0}, {"m": -math.inf}, {"m": 1.0}]
    assert best_result(results, "m", "max")[1] == 2.0
    assert best_result(results, "m", "min")[1] == 1.0
    assert best_result([{"m": math.nan}], "m", "max") is None


# -- end to end ----------------------------------------------------------------------------------------
def _nan_for_odd(config):
    for i in range(1, 9):
        tune.report(score=math.nan if config["x"] % 2 else config["x"] * 1.0, i=i)


def test_asha_run_stops_nan_trials_and_best_is_usable():
    sched = ASHAScheduler(max_t=8, grace_period=1, reduction_factor=2)
    analysis = tune.run(_nan_for_odd, config={"x": tune.grid_search(list(range(8)))}, metric="score", mode="max",
                        scheduler=sched, verbose=0)
    by_x = {t.config["x"]: t for t in analysis.trials}
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)
    for x in (1, 3, 5, 7):
        assert by_x[x].last_result["training_iteration"] == 1
    assert analysis.get_best_config()["x"] == 6


@pytest.mark.parametrize("searcher", ["hyperopt", "optuna"])
def test_searchers_are_told_nan_trials_failed(searcher):
    if searcher == "hyperopt":
        pytest.importorskip("hyperopt")
        from tunelab.suggest.hyperopt import HyperOptSearch as Search
    else:
        optuna = pytest.importorskip("optuna")
        from tunelab.suggest.optuna import OptunaSearch as Search

    def train(config):
        tune.report(loss=math.nan if config["x"] > 0.5 else config["x"])

    search = Search(metric="loss", mode="min", random_state_seed=1) if searcher == "hyperopt" else \
        Search(metric="loss", mode="min", seed=1)
    analysis = tune.run(train, config={"x": tune.uniform(0, 1)}, num_samples=8, search_alg=search, verbose=0)
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)
    nan_trials = sum(t.config["x"] > 0.5 for t in analysis.trials)
    assert 0 < nan_trials < 8
    assert analysis.get_best_config(metric="loss", mode="min")["x"] <= 0.5
    if searcher == "hyperopt":
        import hyperopt

        statuses = [d["result"].get("status") for d in search._trials.trials]
        assert statuses.count(hyperopt.STATUS_FAIL) == nan_trials
        assert all(not math.isnan(loss) for loss in search._trials.losses() if loss is not None)
    else:
        states = [t.state for t in search._study.trials]
        assert states.count(optuna.trial.TrialState.FAIL) == nan_trials


def _string_metric(config):
    for i in range(3):
        tune.report(acc="high" if config["x"] == 1 else 0.1 * i)


def test_string_metric_in_stop_errors_only_that_trial():
    analysis = tune.run(_string_metric, config={"x": tune.grid_search([0, 1, 2])}, stop={"acc": 0.15},
                        verbose=0, raise_on_failed_trial=False, max_failures=2)
    by_x = {t.config["x"]: t for t in analysis.trials}
    assert by_x[1].status == Trial.ERROR and by_x[1].num_failures == 1  # not retried: it would fail again
    assert "'acc'" in by_x[1].error_msg and "'high'" in by_x[1].error_msg
    assert "'high'" in Path(by_x[1].error_file).read_text()
    for x in (0, 2):
        assert by_x[x].status == Trial.TERMINATED and by_x[x].last_result["acc"] == pytest.approx(0.2)


def test_string_metric_for_a_scheduler_errors_only_that_trial():
    analysis = tune.run(_string_metric, config={"x": tune.grid_search([0, 1])}, metric="acc", mode="max",
                        scheduler=ASHAScheduler(max_t=3, grace_period=1), verbose=0, raise_on_failed_trial=False)
    by_x = {t.config["x"]: t for t in analysis.trials}
    assert by_x[1].status == Trial.ERROR and "must be a number" in by_x[1].error_msg
    assert by_x[0].status == Trial.TERMINATED


def test_scheduler_rejects_string_metric_directly():
    sched = ASHAScheduler(metric="acc", mode="max", max_t=4)
    runner = MockRunner(sched)
    trial = runner.add_trial(Trial("t"))
    with pytest.raises(metrics.BadMetricError, match="'acc'.*'oops'"):
        sched.on_trial_result(runner, trial, {"acc": "oops", "training_iteration": 1})
    assert sched.on_trial_result(runner, trial, {"acc": 0.5, "training_iteration": 1}) == TrialScheduler.CONTINUE


def _huge(config):
    tune.report(m=config["m"])


def test_metric_beyond_float32_does_not_abort_the_run():
    analysis = tune.run(_huge, config={"m": tune.grid_search([1e308, -1e308, math.inf])}, verbose=0)
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 3
    assert analysis.get_best_trial(metric="m", mode="max") is not None  # 1e308 is finite, so usable


def _steps_with_checkpoints(config):
    checkpoint = tune.get_checkpoint()
    start = checkpoint.to_dict()["step"] if checkpoint is not None else 0
    for step in range(start + 1, 3):
        tune.report(m=float(step), checkpoint=tune.Checkpoint.from_dict({"step": step}))


def test_a_resumed_function_trial_with_nothing_left_to_report_finishes():
    """PBT pauses each trial after every result (the other one waits); the last resume finds no step
    left, and that is a normal end, not "finished without reporting"."""
    sched = PopulationBasedTraining(time_attr="training_iteration", metric="m", mode="max", perturbation_interval=1,
                                    hyperparam_mutations={"lr": [0.1, 0.2]}, seed=0)
    analysis = tune.run(_steps_with_checkpoints, config={"lr": 0.1}, num_samples=2, scheduler=sched,
                        max_concurrent_trials=1, verbose=0)
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 2
    assert all(t.last_result["m"] == 2.0 for t in analysis.trials)


@pytest.mark.parametrize("time", ["3", math.nan])
def test_a_bad_time_attr_value_fails_the_trial_not_the_scheduler(time):
    sched = ASHAScheduler(time_attr="epoch", metric="acc", mode="max", max_t=4)
    runner = MockRunner(sched)
    trial = runner.add_trial(Trial("t"))
    with pytest.raises(metrics.BadMetricError, match="'epoch'"):
        sched.on_trial_result(runner, trial, {"acc": 0.5, "epoch": time})


class _JudgesOnlyAtTheEnd(tune.schedulers.FIFOScheduler):
    """A user scheduler that reads the metric only when a trial completes."""

    def on_trial_complete(self, runner, trial, result):
        metrics.require_number(result.get("acc"), "acc", "JudgesOnlyAtTheEnd")


def test_a_bad_metric_seen_at_completion_errors_only_that_trial():
    analysis = tune.run(_string_metric, config={"x": tune.grid_search([0, 1])}, scheduler=_JudgesOnlyAtTheEnd(),
                        verbose=0, raise_on_failed_trial=False)
    by_x = {t.config["x"]: t for t in analysis.trials}
    assert by_x[1].status == Trial.ERROR and "'high'" in by_x[1].error_msg
    assert by_x[0].status == Trial.TERMINATED
