"""AsyncHyperBandScheduler: the seed's stopping rule, the promotion rule, and resume."""
import pickle

import pytest
from sched_testkit import MockRunner, drive, result

from tunelab.error import TuneError
from tunelab.schedulers import ASHAScheduler, AsyncHyperBandScheduler, TrialScheduler
from tunelab.trial import Trial

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


def basic_setup(scheduler, make_result=result):
    t1 = Trial("PPO")  # mean is 450, max 900, t_max=10
    t2 = Trial("PPO")  # mean is 450, max 450, t_max=5
    scheduler.on_trial_add(None, t1)
    scheduler.on_trial_add(None, t2)
    for i in range(10):
        assert scheduler.on_trial_result(None, t1, make_result(i, i * 100)) == CONTINUE
    for i in range(5):
        assert scheduler.on_trial_result(None, t2, make_result(i, 450)) == CONTINUE
    return t1, t2


def test_two_names_two_sets_of_defaults():
    """AsyncHyperBandScheduler keeps the 2018 defaults, ASHAScheduler (a subclass) has today's."""
    assert issubclass(ASHAScheduler, AsyncHyperBandScheduler) and ASHAScheduler is not AsyncHyperBandScheduler
    seed, modern = AsyncHyperBandScheduler(), ASHAScheduler()
    assert (seed._max_t, seed._rf, len(seed._brackets)) == (100, 3, 3)
    assert [r.milestone for r in seed._brackets[0].rungs] == [10, 30, 90]
    assert (modern._max_t, modern._rf, len(modern._brackets)) == (100, 4, 1)
    assert [r.milestone for r in modern._brackets[0].rungs] == [1, 4, 16, 64]


def test_on_complete():
    scheduler = AsyncHyperBandScheduler(max_t=10, brackets=1)
    _, t2 = basic_setup(scheduler)
    t3 = Trial("PPO")
    scheduler.on_trial_add(None, t3)
    scheduler.on_trial_complete(None, t3, result(10, 1000))
    assert scheduler.on_trial_result(None, t2, result(101, 0)) == STOP


def test_grace_period():
    scheduler = AsyncHyperBandScheduler(grace_period=2.5, reduction_factor=3, brackets=1)
    t1, t2 = basic_setup(scheduler)
    scheduler.on_trial_complete(None, t1, result(10, 1000))
    scheduler.on_trial_complete(None, t2, result(10, 1000))
    t3 = Trial("PPO")
    scheduler.on_trial_add(None, t3)
    assert scheduler.on_trial_result(None, t3, result(1, 10)) == CONTINUE
    assert scheduler.on_trial_result(None, t3, result(2, 10)) == CONTINUE
    assert scheduler.on_trial_result(None, t3, result(3, 10)) == STOP


def test_all_complete_at_max_t():
    scheduler = AsyncHyperBandScheduler(max_t=10, brackets=10)
    trials = [Trial("PPO") for _ in range(10)]
    for t in trials:
        scheduler.on_trial_add(None, t)
    for t in trials:
        assert scheduler.on_trial_result(None, t, result(10, -2)) == STOP


def test_uses_percentile():
    scheduler = AsyncHyperBandScheduler(grace_period=1, max_t=10, reduction_factor=2, brackets=1)
    t1, t2 = basic_setup(scheduler)
    scheduler.on_trial_complete(None, t1, result(10, 1000))
    scheduler.on_trial_complete(None, t2, result(10, 1000))
    t3 = Trial("PPO")
    scheduler.on_trial_add(None, t3)
    assert scheduler.on_trial_result(None, t3, result(1, 260)) == STOP
    assert scheduler.on_trial_result(None, t3, result(2, 260)) == STOP


def test_alternate_metrics():
    def result2(t, rew):
        return dict(training_iteration=t, neg_mean_loss=rew)

    scheduler = AsyncHyperBandScheduler(grace_period=1, time_attr="training_iteration", reward_attr="neg_mean_loss",
                                        brackets=1)
    t1, t2 = basic_setup(scheduler, result2)
    scheduler.on_trial_complete(None, t1, result2(10, 1000))
    assert scheduler.on_trial_result(None, t2, result2(5, 450)) == CONTINUE
    assert scheduler.on_trial_result(None, t2, result2(6, 0)) == CONTINUE


def test_mode_min_keeps_low_losses():
    scheduler = AsyncHyperBandScheduler(metric="loss", mode="min", grace_period=1, max_t=10, reduction_factor=2,
                                        brackets=1)
    good, bad = Trial("a"), Trial("b")
    for t in (good, bad):
        scheduler.on_trial_add(None, t)
    assert scheduler.on_trial_result(None, good, {"training_iteration": 1, "loss": 0.1}) == CONTINUE
    assert scheduler.on_trial_result(None, bad, {"training_iteration": 1, "loss": 0.9}) == STOP
    assert "Iter 1.000: 0.5" in scheduler.debug_string()  # median of the losses 0.1 and 0.9


def test_debug_string():
    scheduler = AsyncHyperBandScheduler(grace_period=1, max_t=10, reduction_factor=2, brackets=2)
    text = scheduler.debug_string().splitlines()
    assert text[0] == "Using AsyncHyperBand: num_stopped=0"
    assert text[1] == "Bracket: Iter 8.000: None | Iter 4.000: None | Iter 2.000: None | Iter 1.000: None"
    assert text[2] == "Bracket: Iter 8.000: None | Iter 4.000: None | Iter 2.000: None"


@pytest.mark.parametrize("kwargs", [dict(grace_period=20, max_t=10), dict(type="fancy"), dict(mode="best"),
                                    dict(reduction_factor=1), dict(brackets=0), dict(max_t=0)])
def test_bad_arguments(kwargs):
    with pytest.raises(TuneError):
        AsyncHyperBandScheduler(**kwargs)


def test_bad_mode_message_names_value():
    with pytest.raises(TuneError, match="'best'.*|.*'min' or 'max'"):
        AsyncHyperBandScheduler(mode="best")


def test_needs_checkpoints_only_for_promotion():
    assert not AsyncHyperBandScheduler().needs_checkpoints
    assert AsyncHyperBandScheduler(type="promotion").needs_checkpoints


def test_bracket_choice_is_seeded():
    def brackets(seed):
        scheduler = AsyncHyperBandScheduler(brackets=3, grace_period=1, max_t=81, reduction_factor=3, seed=seed)
        trials = [Trial("x") for _ in range(50)]
        for t in trials:
            scheduler.on_trial_add(None, t)
        return [scheduler._trial_info[t.trial_id] for t in trials]

    assert brackets(1) == brackets(1)
    counts = [brackets(1).count(i) for i in range(3)]
    assert counts[0] > counts[1] > counts[2]  # softmax over 5, 4, 3 rungs


# -- promotion ---------------------------------------------------------------------------------------
def promotion(**kwargs):
    kwargs = dict(type="promotion", grace_period=1, max_t=9, reduction_factor=3, brackets=1,
                  time_attr="training_iteration") | kwargs
    return AsyncHyperBandScheduler(**kwargs)


def report(scheduler, runner, trial, t, score):
    action = scheduler.on_trial_result(runner, trial, dict(training_iteration=t, episode_reward_mean=score))
    runner.process_action(trial, action)
    return action


def test_promotion_pauses_at_rung_then_promotes_the_best():
    scheduler = promotion()
    runner = MockRunner(scheduler, capacity=1)
    trials = [runner.add_trial(Trial(f"t{i}")) for i in range(4)]
    scores = [2, 3, 1, 0]
    for trial, score in zip(trials[:3], scores):
        assert scheduler.choose_trial_to_run(runner) is trial
        runner.launch(trial)
        assert report(scheduler, runner, trial, 1, score) == PAUSE  # < 3 at rung 1: nobody promotable
    # three recorded at rung 1: the best (score 3) is promotable, before the PENDING trial
    assert scheduler.choose_trial_to_run(runner) is trials[1]
    assert scheduler.choose_trial_to_run(runner) is trials[1]  # idempotent
    runner.launch(trials[1])
    assert report(scheduler, runner, trials[1], 2, 3) == CONTINUE
    assert report(scheduler, runner, trials[1], 3, 3) == PAUSE  # rung 3, alone there
    assert scheduler.choose_trial_to_run(runner) is trials[3]
    runner.launch(trials[3])
    assert report(scheduler, runner, trials[3], 1, 0) == PAUSE
    # nothing pending or running: the synchronous rule promotes the best of rung 3, which runs to max_t
    assert scheduler.choose_trial_to_run(runner) is trials[1]
    runner.launch(trials[1])
    assert report(scheduler, runner, trials[1], 9, 5) == STOP
    runner.process_action(trials[1], STOP)
    # rung 1 holds 4: ceil(4/3) = 2 were promotable: t1 (done) and t0
    assert scheduler.choose_trial_to_run(runner) is trials[0]


def test_promotion_continues_when_the_trial_is_the_next_promotion():
    scheduler = promotion()
    runner = MockRunner(scheduler, capacity=1)
    trials = [runner.add_trial(Trial(f"t{i}")) for i in range(5)]
    for trial, score in zip(trials[:2], (1, 2)):
        runner.launch(trial)
        assert report(scheduler, runner, trial, 1, score) == PAUSE
    runner.launch(trials[2])
    assert report(scheduler, runner, trials[2], 1, 9) == CONTINUE  # best of 3 at rung 1: promoted at once


def test_promotion_endgame_waits_for_the_searcher():
    """The controller adds trials just in time, so no PENDING trial while a result is processed does not
    mean the experiment is ending: a trial outside the top floor(n/rf) pauses, and the synchronous rule is
    only applied by choose_trial_to_run, which the controller calls after asking the searcher for more."""
    scheduler = promotion()
    runner = MockRunner(scheduler, capacity=1)
    first = runner.add_trial(Trial("t0"))
    runner.launch(first)
    assert report(scheduler, runner, first, 1, 5) == PAUSE  # alone at rung 1: floor(1/3) = 0 promotable
    late = runner.add_trial(Trial("t1"))  # added just in time, after the result
    assert scheduler.choose_trial_to_run(runner) is late
    runner.launch(late)
    assert report(scheduler, runner, late, 1, 1) == PAUSE
    # the searcher is finished: nothing pending or running, so the best of rung 1 is promoted (ceil(2/3) = 1)
    assert scheduler.choose_trial_to_run(runner) is first


def test_promotion_endgame_stops_unpromotable_trials_and_finishes():
    scheduler = promotion()
    trials = [Trial(f"t{i}") for i in range(20)]
    finals = {t.trial_id: i for i, t in enumerate(trials)}
    runner = drive(scheduler, trials, lambda trial, t: finals[trial.trial_id] * t, max_t=9, workers=2)
    assert all(t.is_finished() for t in trials)
    best = trials[-1]
    assert best.last_result["training_iteration"] == 9  # the best trial was trained to max_t
    assert best not in runner.stopped
    assert "num_stopped=" in scheduler.debug_string()


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
@pytest.mark.parametrize("workers", [1, 3])
def test_experiments_always_finish(kind, workers):
    scheduler = AsyncHyperBandScheduler(type=kind, grace_period=1, max_t=27, reduction_factor=3, brackets=2, seed=0)
    trials = [Trial(f"t{i}") for i in range(30)]
    drive(scheduler, trials, lambda trial, t: (hash(trial.trial_id) % 97) * t ** 0.5, max_t=27, workers=workers)
    assert all(t.is_finished() for t in trials)


def test_save_and_restore_state():
    scheduler = promotion(brackets=2, seed=3)
    runner = MockRunner(scheduler)
    trials = [runner.add_trial(Trial(f"t{i}")) for i in range(6)]
    for i, trial in enumerate(trials):
        runner.launch(trial)
        report(scheduler, runner, trial, 1, i)
    state = pickle.loads(pickle.dumps(scheduler.save_state()))
    fresh = promotion(brackets=2, seed=99)
    fresh.restore_state(state, {t.trial_id: t for t in trials})
    assert fresh.debug_string() == scheduler.debug_string()
    assert fresh.choose_trial_to_run(runner) is scheduler.choose_trial_to_run(runner)
    new_a, new_b = Trial("a"), Trial("b")
    scheduler.on_trial_add(None, new_a)
    fresh.on_trial_add(None, new_b)
    assert scheduler._trial_info[new_a.trial_id] == fresh._trial_info[new_b.trial_id]  # same random stream
