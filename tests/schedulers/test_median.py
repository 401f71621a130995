"""MedianStoppingRule: the seed's decision sequences, plus metric/mode handling and resume."""
import pickle

import pytest
from sched_testkit import MockRunner, result

from tunelab.error import TuneError
from tunelab.schedulers import MedianStoppingRule, TrialScheduler
from tunelab.trial import Trial

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


def basic_setup(rule, make_result=result):
    t1 = Trial("PPO")  # mean is 450, max 900, t_max=10
    t2 = Trial("PPO")  # mean is 450, max 450, t_max=5
    for i in range(10):
        assert rule.on_trial_result(None, t1, make_result(i, i * 100)) == CONTINUE
    for i in range(5):
        assert rule.on_trial_result(None, t2, make_result(i, 450)) == CONTINUE
    return t1, t2


def test_constant_perf():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1)
    t1, t2 = basic_setup(rule)
    rule.on_trial_complete(None, t1, result(10, 1000))
    assert rule.on_trial_result(None, t2, result(5, 450)) == CONTINUE
    assert rule.on_trial_result(None, t2, result(6, 0)) == CONTINUE
    assert rule.on_trial_result(None, t2, result(10, 450)) == STOP


def test_on_complete_only():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1)
    t1, t2 = basic_setup(rule)
    assert rule.on_trial_result(None, t2, result(100, 0)) == CONTINUE
    rule.on_trial_complete(None, t1, result(10, 1000))
    assert rule.on_trial_result(None, t2, result(101, 0)) == STOP


def test_grace_period():
    rule = MedianStoppingRule(grace_period=2.5, min_samples_required=1)
    t1, t2 = basic_setup(rule)
    rule.on_trial_complete(None, t1, result(10, 1000))
    rule.on_trial_complete(None, t2, result(10, 1000))
    t3 = Trial("PPO")
    assert rule.on_trial_result(None, t3, result(1, 10)) == CONTINUE
    assert rule.on_trial_result(None, t3, result(2, 10)) == CONTINUE
    assert rule.on_trial_result(None, t3, result(3, 10)) == STOP


def test_min_samples():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=2)
    t1, t2 = basic_setup(rule)
    rule.on_trial_complete(None, t1, result(10, 1000))
    t3 = Trial("PPO")
    assert rule.on_trial_result(None, t3, result(3, 10)) == CONTINUE
    rule.on_trial_complete(None, t2, result(10, 1000))
    assert rule.on_trial_result(None, t3, result(3, 10)) == STOP


def test_uses_median():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1)
    t1, t2 = basic_setup(rule)
    rule.on_trial_complete(None, t1, result(10, 1000))
    rule.on_trial_complete(None, t2, result(10, 1000))
    t3 = Trial("PPO")
    assert rule.on_trial_result(None, t3, result(1, 260)) == CONTINUE
    assert rule.on_trial_result(None, t3, result(2, 260)) == STOP


def test_soft_stop_pauses_then_falls_back_to_fifo():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1, hard_stop=False)
    assert rule.needs_checkpoints
    t1, t2 = basic_setup(rule)
    rule.on_trial_complete(None, t1, result(10, 1000))
    rule.on_trial_complete(None, t2, result(10, 1000))
    t3 = Trial("PPO")
    assert rule.on_trial_result(None, t3, result(1, 260)) == CONTINUE
    assert rule.on_trial_result(None, t3, result(2, 260)) == PAUSE
    # resumed later: never judged again
    assert rule.on_trial_result(None, t3, result(3, 0)) == CONTINUE


def test_alternate_metrics():
    def result2(t, rew):
        return dict(training_iteration=t, neg_mean_loss=rew)

    rule = MedianStoppingRule(grace_period=0, min_samples_required=1, time_attr="training_iteration",
                              reward_attr="neg_mean_loss")
    t1, t2 = basic_setup(rule, result2)
    rule.on_trial_complete(None, t1, result2(10, 1000))
    assert rule.on_trial_result(None, t2, result2(5, 450)) == CONTINUE
    assert rule.on_trial_result(None, t2, result2(6, 0)) == CONTINUE
    assert rule.on_trial_result(None, t2, result2(10, 450)) == STOP


def test_mode_min_mirrors_max():
    def loss(t, rew):
        return dict(time_total_s=t, loss=-rew)

    rule = MedianStoppingRule(grace_period=0, min_samples_required=1, metric="loss", mode="min")
    t1, t2 = basic_setup(rule, loss)
    rule.on_trial_complete(None, t1, loss(10, 1000))
    assert rule.on_trial_result(None, t2, loss(6, 0)) == CONTINUE
    assert rule.on_trial_result(None, t2, loss(10, 450)) == STOP


def test_search_properties_fill_in_default_metric():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1)
    assert rule.set_search_properties("loss", "min")
    t1 = Trial("x")
    rule.on_trial_result(None, t1, {"time_total_s": 1, "loss": 1.0})
    with pytest.raises(TuneError, match="episode_reward_mean|loss"):
        rule.on_trial_result(None, Trial("y"), result(1, 1))
    assert not MedianStoppingRule(metric="a", mode="max").set_search_properties("b", None)
    assert not MedianStoppingRule(metric="a", mode="max").set_search_properties(None, "min")
    assert MedianStoppingRule(metric="a", mode="max").set_search_properties("a", "max")


def test_missing_metric_in_first_result_names_reported_keys():
    rule = MedianStoppingRule()
    with pytest.raises(TuneError) as info:
        rule.on_trial_result(None, Trial("x"), {"time_total_s": 1, "mean_loss": 2})
    assert "episode_reward_mean" in str(info.value) and "mean_loss" in str(info.value)
    trial = Trial("y")
    trial.last_result = {"time_total_s": 1}  # not the first result: tolerated
    assert rule.on_trial_result(None, trial, {"time_total_s": 2}) == CONTINUE


@pytest.mark.parametrize("kwargs", [dict(mode="maximize"), dict(grace_period=-1), dict(min_samples_required=0),
                                    dict(reward_attr="a", metric="b"), dict(reward_attr="a", mode="min")])
def test_bad_arguments(kwargs):
    with pytest.raises(TuneError):
        MedianStoppingRule(**kwargs)


def test_min_time_slice_yields_to_waiting_trials():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1, min_time_slice=5)
    assert rule.needs_checkpoints
    runner = MockRunner(rule)
    a, b = runner.add_trial(Trial("a")), runner.add_trial(Trial("b"))
    runner.launch(a)
    assert rule.on_trial_result(runner, a, result(3, 1)) == CONTINUE
    assert rule.on_trial_result(runner, a, result(5, 1)) == PAUSE
    b.status = Trial.TERMINATED  # nobody waits any more
    assert rule.on_trial_result(runner, a, result(11, 1)) == CONTINUE


def test_paused_trial_removed_counts_as_finished():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1)
    t1, _ = basic_setup(rule)
    t1.status = Trial.PAUSED
    rule.on_trial_remove(None, t1)  # t1's mean up to t=10 is 450
    assert rule.on_trial_result(None, Trial("c"), result(10, 449)) == STOP


def test_save_and_restore_state():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1)
    t1, t2 = basic_setup(rule)
    rule.on_trial_complete(None, t1, result(10, 1000))
    state = pickle.loads(pickle.dumps(rule.save_state()))
    fresh = MedianStoppingRule(grace_period=0, min_samples_required=1)
    fresh.restore_state(state, {t1.trial_id: t1, t2.trial_id: t2})
    assert fresh.on_trial_result(None, t2, result(6, 0)) == CONTINUE
    assert fresh.on_trial_result(None, t2, result(10, 450)) == STOP
    assert fresh.debug_string() == "Using MedianStoppingRule: num_stopped=1."


def test_unordered_history_after_restore_to_earlier_point():
    rule = MedianStoppingRule(grace_period=0, min_samples_required=1)
    t1 = Trial("a")
    for t, r in [(1, 10), (2, 20), (3, 30), (2, 100)]:  # restored from t=1, re-reports t=2
        rule.on_trial_result(None, t1, result(t, r))
    rule.on_trial_complete(None, t1, result(4, 40))
    t2 = Trial("b")
    # mean of t1 up to t=2 is (10 + 20 + 100) / 3 = 43.3
    assert rule.on_trial_result(None, t2, result(2, 44)) == CONTINUE
    t3 = Trial("c")
    assert rule.on_trial_result(None, t3, result(2, 43)) == STOP
