"""HyperBandScheduler: the seed's brackets and successive halving, robustness, and resume."""
import math
import pickle

import pytest
from sched_testkit import MockRunner, drive, result

from tunelab.error import TuneError
from tunelab.schedulers import HyperBandScheduler, TrialScheduler
from tunelab.trial import Trial

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


#: the bracket order `scheduler_setup` uses unless told: the seed-era decision sequences below run under both
_SETUP_ORDER = {"value": "aggressive_first"}


@pytest.fixture(autouse=True, params=["aggressive_first", "seed"])
def setup_order(request):
    _SETUP_ORDER["value"] = request.param
    yield request.param
    _SETUP_ORDER["value"] = "aggressive_first"


def scheduler_setup(num_trials, max_t=81, bracket_order=None):
    """Brackets (n, r): (5, 81); (8, 27) -> (3, 81); (15, 9) -> (5, 27) -> (2, 81); ...
    Milestones, halving and which trials pause or stop do not depend on the bracket order."""
    sched = HyperBandScheduler(max_t=max_t, bracket_order=bracket_order or _SETUP_ORDER["value"])
    runner = MockRunner(sched)
    for _ in range(num_trials):
        runner.add_trial(Trial("__fake"))
    return sched, runner


def default_statistics():
    sched = HyperBandScheduler()
    res = {str(s): {"n": sched._get_n0(s), "r": sched._get_r0(s)} for s in range(sched._s_max_1)}
    res["max_trials"] = sum(v["n"] for v in res.values())
    res["brack_count"] = sched._s_max_1
    res["s_max"] = sched._s_max_1 - 1
    return res


def downscale(n, sched):
    return math.ceil(n / sched._eta)


def test_default_band():
    stats = default_statistics()
    assert [stats[str(s)]["n"] for s in range(5)] == [5, 8, 15, 34, 81]
    assert [stats[str(s)]["r"] for s in range(5)] == [81, 27, 9, 3, 1]
    sched, _ = scheduler_setup(stats["max_trials"])
    assert len(sched._hyperbands) == 1 and sched._cur_band_filled()
    assert all(bracket.filled() for bracket in sched._hyperbands[0])


def test_config_same_eta():
    for max_t, r_first, r_last in ((81, 81, 1), (810, 810, 10)):
        sched = HyperBandScheduler(max_t=max_t)
        while not sched._cur_band_filled():
            sched.on_trial_add(None, Trial("__fake"))
        band = sched._hyperbands[0]
        assert len(band) == 5
        assert (band[0]._n, band[0]._r) == (5, r_first)
        assert (band[-1]._n, band[-1]._r) == (81, r_last)


def test_config_same_eta_small():
    sched = HyperBandScheduler(max_t=1)
    while len(sched._hyperbands) < 2:
        sched.on_trial_add(None, Trial("__fake"))
    assert len(sched._hyperbands[0]) == 5
    assert all(v is None for v in sched._hyperbands[0][1:])


def test_successive_halving():
    stats = default_statistics()
    sched, runner = scheduler_setup(stats["max_trials"])
    big_bracket = sched._state["bracket"]
    cur_units = stats[str(stats["s_max"])]["r"]
    for _ in range(stats["brack_count"] - 1):  # the last bracket halves 4 times
        trials = big_bracket.current_trials()
        for trial in trials:
            runner.launch(trial)
        for i, trial in enumerate(trials):  # rewards 0..n-1 in order, the last one keeps running
            action = sched.on_trial_result(runner, trial, result(cur_units, i))
            if i < len(trials) - 1:
                assert action == PAUSE
            runner.process_action(trial, action)
        assert action == CONTINUE
        assert len(big_bracket.current_trials()) == downscale(len(trials), sched)
        cur_units += int(cur_units * sched._eta)
    assert len(big_bracket.current_trials()) == 1


def test_halving_stop():
    stats = default_statistics()
    sched, runner = scheduler_setup(stats["0"]["n"] + stats["1"]["n"])
    big_bracket = sched._state["bracket"]
    for trial in big_bracket.current_trials():
        runner.launch(trial)
    for i, trial in reversed(list(enumerate(big_bracket.current_trials()))):  # the worst reports last
        action = sched.on_trial_result(runner, trial, result(stats["1"]["r"], i))
        runner.process_action(trial, action)
    assert action == STOP
    assert len(runner.stopped) == 4  # the paused bad ones: 8 - ceil(8/3) - the current one


def test_stops_last_one():
    stats = default_statistics()
    sched, runner = scheduler_setup(stats["0"]["n"])
    big_bracket = sched._state["bracket"]
    for trial in big_bracket.current_trials():
        runner.launch(trial)
    for i, trial in enumerate(big_bracket.current_trials()):
        action = sched.on_trial_result(runner, trial, result(stats["0"]["r"], i))
        runner.process_action(trial, action)
    assert action == STOP
    assert all(t.status == Trial.TERMINATED for t in runner.trials)


@pytest.mark.parametrize("end", ["error", "complete"])
def test_trial_ended_early_still_halves(end):
    stats = default_statistics()
    sched, runner = scheduler_setup(stats["0"]["n"] + 3)
    t1, t2, t3 = sched._state["bracket"].current_trials()
    for t in (t1, t2, t3):
        runner.launch(t)
    if end == "error":
        sched.on_trial_error(runner, t3)
    else:
        sched.on_trial_complete(runner, t3, result(1, 12))
    assert sched.on_trial_result(runner, t1, result(stats["1"]["r"], 10)) == PAUSE
    assert sched.on_trial_result(runner, t2, result(stats["1"]["r"], 10)) == CONTINUE


@pytest.mark.parametrize("end", ["error", "complete"])
def test_last_trial_ending_still_halves(end):
    stats = default_statistics()
    sched, runner = scheduler_setup(stats["0"]["n"] + stats["1"]["n"])
    trials = sched._state["bracket"].current_trials()
    for t in trials[:-1]:
        runner.launch(t)
        runner.process_action(t, sched.on_trial_result(runner, t, result(stats["1"]["r"], 10)))
    runner.launch(trials[-1])
    if end == "error":
        sched.on_trial_error(runner, trials[-1])
    else:
        sched.on_trial_complete(runner, trials[-1], result(100, 12))
    assert len(sched._state["bracket"].current_trials()) == downscale(stats["1"]["n"], sched)
    # the good trials were unpaused, the bad ones stopped
    assert sum(t.status == Trial.PENDING for t in trials) == 3
    assert sum(t.status == Trial.TERMINATED for t in trials) == 4


def test_add_after_halving_gets_fair_budget():
    stats = default_statistics()
    sched, runner = scheduler_setup(stats["0"]["n"] + 1)
    bracket_trials = sched._state["bracket"].current_trials()
    init_units = stats["1"]["r"]
    for t in bracket_trials:
        runner.launch(t)
    for i, t in enumerate(bracket_trials):
        action = sched.on_trial_result(runner, t, result(init_units, i))
    assert action == CONTINUE
    t = runner.add_trial(Trial("__fake"))
    runner.launch(t)
    assert len(sched._state["bracket"].current_trials()) == 2
    assert sched.on_trial_result(runner, t, result(init_units, 12)) == CONTINUE
    new_units = init_units + int(init_units * sched._eta)
    assert sched.on_trial_result(runner, t, result(new_units, 12)) == PAUSE


def test_alternate_metrics():
    def result2(t, rew):
        return dict(time_total_s=t, neg_mean_loss=rew)

    sched = HyperBandScheduler(time_attr="time_total_s", reward_attr="neg_mean_loss")
    runner = MockRunner(sched)
    for _ in range(default_statistics()["max_trials"]):
        runner.add_trial(Trial("__fake"))
    big_bracket = sched._hyperbands[0][-1]
    for trial in big_bracket.current_trials():
        runner.launch(trial)
    current_length = len(big_bracket.current_trials())
    for i, trial in enumerate(big_bracket.current_trials()):
        action = sched.on_trial_result(runner, trial, result2(1, i))
        runner.process_action(trial, action)
    assert action == CONTINUE
    assert len(big_bracket.current_trials()) == downscale(current_length, sched)


def test_mode_min_keeps_the_lowest():
    sched = HyperBandScheduler(metric="loss", mode="min", max_t=9)
    runner = MockRunner(sched)
    trials = [runner.add_trial(Trial(str(i))) for i in range(sched._get_n0(0) + sched._get_n0(1))][-8:]  # s=1, r=3
    losses = [0.5, 0.1, 0.9, 0.7, 0.3, 0.8, 0.2, 0.6]
    for t in trials:
        runner.launch(t)
    for loss, t in zip(losses, trials):
        runner.process_action(t, sched.on_trial_result(runner, t, {"training_iteration": 3, "loss": loss}))
    kept = sorted(loss for loss, t in zip(losses, trials) if t.status != Trial.TERMINATED)
    assert kept == [0.1, 0.2, 0.3]


def test_jumping_time_pauses():
    sched, runner = scheduler_setup(81)
    big_bracket = sched._hyperbands[0][-1]
    for trial in big_bracket.current_trials():
        runner.launch(trial)
    main_trials, jump = big_bracket.current_trials()[:-1], big_bracket.current_trials()[-1]
    for i, trial in enumerate(main_trials):
        runner.process_action(trial, sched.on_trial_result(runner, trial, result(1, i)))
    assert sched.on_trial_result(runner, jump, result(4, 0)) == PAUSE
    assert len(big_bracket.current_trials()) < 27


def test_remove():
    """Start 1, remove 1 pending, add 2, remove 1 pending."""
    sched, runner = scheduler_setup(4)
    trials = sorted(sched._trial_info, key=lambda t: t.trial_id)
    runner.launch(trials[0])
    sched.on_trial_result(runner, trials[0], result(1, 5))
    assert trials[0].status == Trial.RUNNING and trials[1].status == Trial.PENDING
    bracket, _ = sched._trial_info[trials[1]]
    assert trials[1] in bracket._live_trials
    sched.on_trial_remove(runner, trials[1])
    assert trials[1] not in bracket._live_trials
    for _ in range(2):
        trial = runner.add_trial(Trial("__fake"))
    bracket, _ = sched._trial_info[trial]
    assert trial in bracket._live_trials
    sched.on_trial_remove(runner, trial)
    assert trial not in bracket._live_trials


def test_filter_none_bracket():
    sched, runner = scheduler_setup(100, 20)
    assert any(b is None for band in sched._hyperbands for b in band)
    assert sched.choose_trial_to_run(runner) is not None


def test_seed_order_prefers_least_complete_bracket():
    sched, runner = scheduler_setup(5 + 8, bracket_order="seed")
    first = sched._hyperbands[0][0].current_trials()[0]
    assert sched.choose_trial_to_run(runner) is first
    runner.launch(first)
    sched.on_trial_result(runner, first, result(10, 1))  # bracket 0 is now 2.5% done, bracket 1 0%
    assert sched.choose_trial_to_run(runner) is sched._hyperbands[0][1].current_trials()[0]


def test_debug_string():
    sched, runner = scheduler_setup(7)
    for t in runner.trials[:3]:
        runner.launch(t)
    text = sched.debug_string().splitlines()
    assert text[0] == "Using HyperBand: num_stopped=0 total_brackets=2"
    assert text[1] == "Round #0:"
    assert text[2] == "  Bracket(Max Size (n)=5, Milestone (r)=81, completed=0.0%): {PENDING: 2, RUNNING: 3}"
    assert text[3] == "  Bracket(Max Size (n)=8, Milestone (r)=27, completed=0.0%): {PENDING: 2}"


@pytest.mark.parametrize("kwargs", [dict(max_t=0), dict(reduction_factor=1), dict(mode="up")])
def test_bad_arguments(kwargs):
    with pytest.raises(TuneError):
        HyperBandScheduler(**kwargs)


def test_finished_bracket_stops_paused_trials_when_the_last_one_errors():
    sched = HyperBandScheduler(max_t=81)
    runner = MockRunner(sched)
    trials = [runner.add_trial(Trial(str(i))) for i in range(5)]  # bracket s=0: all run to 81
    for t in trials[:4]:
        runner.launch(t)
        runner.process_action(t, sched.on_trial_result(runner, t, result(81, 1)))
    assert all(t.status == Trial.PAUSED for t in trials[:4])
    runner.launch(trials[4])
    sched.on_trial_error(runner, trials[4])
    assert all(t.status == Trial.TERMINATED for t in trials[:4])


@pytest.mark.parametrize("workers", [1, 2, 5])
@pytest.mark.parametrize("num_trials", [1, 7, 60, 150])
def test_experiments_always_finish(workers, num_trials):
    sched = HyperBandScheduler(max_t=27)
    trials = [Trial(str(i)) for i in range(num_trials)]
    runner = drive(sched, trials, lambda trial, t: (int(trial.trainable_name) * 37 % 101) * t, 27, workers)
    assert all(t.is_finished() for t in runner.trials)


def test_save_and_restore_state():
    sched, runner = scheduler_setup(20)
    bracket = sched._hyperbands[0][1]
    for i, t in enumerate(bracket.current_trials()[:5]):
        runner.launch(t)
        runner.process_action(t, sched.on_trial_result(runner, t, result(27, i)))
    state = pickle.loads(pickle.dumps(sched.save_state()))
    fresh = HyperBandScheduler(bracket_order=_SETUP_ORDER["value"])
    fresh.restore_state(state, {t.trial_id: t for t in runner.trials})
    assert fresh.debug_string() == sched.debug_string()
    assert fresh.choose_trial_to_run(runner) is sched.choose_trial_to_run(runner)
    late = [t for t in bracket.current_trials()[5:]]
    for i, t in enumerate(late):  # the restored bracket halves like the original would
        runner.launch(t)
        action = fresh.on_trial_result(runner, t, result(27, 10 + i))
        runner.process_action(t, action)
    assert action == CONTINUE
    assert len(fresh._hyperbands[0][1].current_trials()) == 3


# -- bracket_order: "aggressive_first" (the default, the Hyperband paper's) and "seed" (the seed's, opt-in) --
def test_default_bracket_order_is_the_papers():
    assert HyperBandScheduler()._bracket_order == "aggressive_first"
    assert HyperBandScheduler(bracket_order="seed")._bracket_order == "seed"


@pytest.mark.parametrize("value", ["bogus", "aggressive", "Seed", None, 1])
def test_bad_bracket_order(value):
    with pytest.raises(TuneError) as info:
        HyperBandScheduler(bracket_order=value)
    message = str(info.value)
    assert repr(value) in message and "'seed'" in message and "'aggressive_first'" in message


def test_aggressive_first_picks_the_most_aggressive_bracket():
    sched, runner = scheduler_setup(default_statistics()["max_trials"], bracket_order="aggressive_first")
    band = sched._hyperbands[0]
    assert [(b._n, b._r) for b in band] == [(5, 81), (8, 27), (15, 9), (34, 3), (81, 1)]
    # the seed order starts with the least aggressive bracket (all 0% done: the first one)
    seed, seed_runner = scheduler_setup(default_statistics()["max_trials"], bracket_order="seed")
    assert seed.choose_trial_to_run(seed_runner) is seed._hyperbands[0][0].current_trials()[0]
    assert sched.choose_trial_to_run(runner) is band[4].current_trials()[0]
    # as long as the most aggressive bracket has a trial to run, the next one comes from it
    for i, trial in enumerate(band[4].current_trials()[:-1]):
        assert sched.choose_trial_to_run(runner) is trial
        runner.launch(trial)
        runner.process_action(trial, sched.on_trial_result(runner, trial, result(1, i)))
        assert trial.status == Trial.PAUSED
    last = band[4].current_trials()[-1]
    assert sched.choose_trial_to_run(runner) is last
    runner.launch(last)
    # nothing of bracket 4 left to start (paused at the milestone or running): the next most aggressive one
    assert sched.choose_trial_to_run(runner) is band[3].current_trials()[0]
    # the last one reaches the milestone: bracket 4 halves, its survivors are resumed and come first again
    assert sched.on_trial_result(runner, last, result(1, 100)) == CONTINUE
    assert len(band[4].current_trials()) == 27
    chosen = sched.choose_trial_to_run(runner)
    assert chosen in band[4].current_trials() and chosen.status == Trial.PENDING


def test_aggressive_first_keeps_milestones_and_halving():
    """Only the choice of the next trial differs: a bracket halves exactly as under the seed order."""
    seed, seed_runner = scheduler_setup(default_statistics()["max_trials"], bracket_order="seed")
    aggressive, aggressive_runner = scheduler_setup(default_statistics()["max_trials"], bracket_order="aggressive_first")
    decisions = {}
    for sched, runner in ((seed, seed_runner), (aggressive, aggressive_runner)):
        bracket = sched._hyperbands[0][2]  # (15, 9) -> (5, 27) -> (2, 81)
        units, rounds = 9, []
        while bracket.current_trials():
            trials = bracket.current_trials()
            for trial in trials:
                runner.launch(trial)
            actions = [sched.on_trial_result(runner, t, result(units, i)) for i, t in enumerate(trials)]
            for trial, action in zip(trials, actions):
                runner.process_action(trial, action)
            rounds.append((units, actions))
            units = min(units * 3, 81)
        decisions[sched] = rounds
    assert decisions[seed] == decisions[aggressive]
    assert [(units, len(actions)) for units, actions in decisions[seed]] == [(9, 15), (27, 5), (81, 2)]
    assert seed.debug_string() == aggressive.debug_string()


def _chosen_brackets(sched, num_trials, workers, max_t=27):
    """`drive` the scheduler; the (band, s) of each trial it chooses to run, in order."""
    chosen = []
    choose = sched.choose_trial_to_run

    def recording(runner):
        trial = choose(runner)
        if trial is not None:
            bracket, band_idx = sched._trial_info[trial]
            chosen.append((band_idx, sched._hyperbands[band_idx].index(bracket)))
        return trial

    sched.choose_trial_to_run = recording
    trials = [Trial(str(i)) for i in range(num_trials)]
    runner = drive(sched, trials, lambda trial, t: (int(trial.trainable_name) * 37 % 101) * t, max_t, workers)
    assert all(t.is_finished() for t in runner.trials)
    return chosen


def test_aggressive_first_finishes_brackets_most_aggressive_first():
    """With one worker, bracket s runs to its end before bracket s-1 starts, band by band (Li et al.'s
    inner loop s = s_max ... 0); the seed order interleaves the brackets instead."""
    sched = HyperBandScheduler(max_t=27, bracket_order="aggressive_first")
    chosen = _chosen_brackets(sched, 120, workers=1)
    assert chosen == sorted(chosen, key=lambda pair: (pair[0], -pair[1]))
    order = list(dict.fromkeys(chosen))
    assert order[:4] == [(0, 3), (0, 2), (0, 1), (0, 0)]  # max_t=27: s=4 has budget 1/3 and is skipped
    seed_chosen = _chosen_brackets(HyperBandScheduler(max_t=27, bracket_order="seed"), 120, workers=1)
    assert seed_chosen != sorted(seed_chosen, key=lambda pair: (pair[0], -pair[1]))


def test_explicit_aggressive_first_makes_the_default_decisions():
    default = _chosen_brackets(HyperBandScheduler(max_t=27), 150, workers=2)
    explicit = _chosen_brackets(HyperBandScheduler(max_t=27, bracket_order="aggressive_first"), 150, workers=2)
    assert default == explicit


@pytest.mark.parametrize("workers", [1, 2, 5])
@pytest.mark.parametrize("num_trials", [1, 7, 60, 150])
def test_aggressive_first_experiments_always_finish(workers, num_trials):
    sched = HyperBandScheduler(max_t=27, bracket_order="aggressive_first")
    trials = [Trial(str(i)) for i in range(num_trials)]
    runner = drive(sched, trials, lambda trial, t: (int(trial.trainable_name) * 37 % 101) * t, 27, workers)
    assert all(t.is_finished() for t in runner.trials)


def test_aggressive_first_save_and_restore_state():
    sched, runner = scheduler_setup(143, bracket_order="aggressive_first")
    bracket = sched._hyperbands[0][4]
    for i, t in enumerate(bracket.current_trials()[:40]):
        runner.launch(t)
        runner.process_action(t, sched.on_trial_result(runner, t, result(1, i)))
    state = pickle.loads(pickle.dumps(sched.save_state()))
    fresh = HyperBandScheduler(bracket_order="aggressive_first")
    fresh.restore_state(state, {t.trial_id: t for t in runner.trials})
    assert fresh.debug_string() == sched.debug_string()
    assert fresh.choose_trial_to_run(runner) is sched.choose_trial_to_run(runner)
    assert fresh.choose_trial_to_run(runner) in bracket.current_trials()
    for i, t in enumerate(bracket.current_trials()[40:]):  # the restored bracket halves like the original would
        runner.launch(t)
        action = fresh.on_trial_result(runner, t, result(1, 100 + i))
        runner.process_action(t, action)
    assert action == CONTINUE
    assert len(fresh._hyperbands[0][4].current_trials()) == 27
    assert fresh.choose_trial_to_run(runner) in fresh._hyperbands[0][4].current_trials()
