"""PopulationBasedTraining: the seed's decision sequences, explore(), the exploit log, synch mode, resume."""
import pickle
import random

import pytest
from sched_testkit import MockRunner, result

from tunelab.error import TuneError
from tunelab.schedulers import PopulationBasedTraining, TrialScheduler
from tunelab.schedulers.pbt import explore
from tunelab.suggest.domains import choice, randint, uniform
from tunelab.trial import Trial

CONTINUE, PAUSE, STOP = TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP


def basic_setup(resample_prob=0.0, explore_fn=None, **kwargs):
    pbt = PopulationBasedTraining(
        time_attr="training_iteration", perturbation_interval=10, resample_probability=resample_prob,
        hyperparam_mutations={"id_factor": [100], "float_factor": lambda: 100.0, "int_factor": lambda: 10},
        custom_explore_fn=explore_fn, **kwargs)
    runner = MockRunner(pbt)
    for i in range(5):
        trial = runner.add_trial(Trial(f"trial_{i}", {"id_factor": i, "float_factor": 2.0, "const_factor": 3,
                                                      "int_factor": 10}, experiment_tag="tag"))
        trial.status = Trial.RUNNING
        assert pbt.on_trial_result(runner, trial, result(10, 50 * i)) == CONTINUE
    pbt.reset_stats()
    return pbt, runner


def test_checkpoints_most_promising_trials():
    pbt, runner = basic_setup()
    trials = runner.get_trials()
    # no checkpoint: the next perturbation interval is not reached yet
    assert pbt.last_scores(trials) == [0, 50, 100, 150, 200]
    assert pbt.on_trial_result(runner, trials[0], result(15, 200)) == CONTINUE
    assert pbt.last_scores(trials) == [0, 50, 100, 150, 200]
    assert pbt._num_checkpoints == 0
    # checkpoint: past the interval and in the upper quantile
    assert pbt.on_trial_result(runner, trials[0], result(20, 200)) == CONTINUE
    assert pbt.last_scores(trials) == [200, 50, 100, 150, 200]
    assert pbt._num_checkpoints == 1
    assert trials[0].checkpoint is not None
    assert pbt.on_trial_result(runner, trials[1], result(30, 201)) == CONTINUE
    assert pbt.last_scores(trials) == [200, 201, 100, 150, 200]
    assert pbt._num_checkpoints == 2
    # not upper quantile any more
    assert pbt.on_trial_result(runner, trials[4], result(30, 199)) == CONTINUE
    assert pbt._num_checkpoints == 2
    assert pbt._num_perturbations == 0


def test_perturbs_low_performing_trials():
    pbt, runner = basic_setup()
    trials = runner.get_trials()
    # no perturbation: the next interval is not reached yet
    assert pbt.on_trial_result(runner, trials[0], result(15, -100)) == CONTINUE
    assert pbt.last_scores(trials) == [0, 50, 100, 150, 200]
    assert "@perturbed" not in trials[0].experiment_tag
    assert pbt._num_perturbations == 0
    # perturbed: lower quantile
    assert pbt.on_trial_result(runner, trials[0], result(20, -100)) == CONTINUE
    assert pbt.last_scores(trials) == [-100, 50, 100, 150, 200]
    assert "@perturbed" in trials[0].experiment_tag
    assert trials[0].restored_checkpoint in ["trial_3", "trial_4"]
    assert pbt._num_perturbations == 1
    # also perturbed
    assert pbt.on_trial_result(runner, trials[2], result(20, 40)) == CONTINUE
    assert pbt.last_scores(trials) == [-100, 50, 40, 150, 200]
    assert pbt._num_perturbations == 2
    assert trials[2].restored_checkpoint in ["trial_3", "trial_4"]
    assert "@perturbed" in trials[2].experiment_tag


def test_perturb_without_resample():
    pbt, runner = basic_setup(resample_prob=0.0)
    trials = runner.get_trials()
    assert pbt.on_trial_result(runner, trials[0], result(20, -100)) == CONTINUE
    assert trials[0].restored_checkpoint in ["trial_3", "trial_4"]
    config = trials[0].config
    assert config["id_factor"] == 100
    assert config["float_factor"] in [2.4, 1.6] and type(config["float_factor"]) is float
    assert config["int_factor"] in [8, 12] and type(config["int_factor"]) is int
    assert config["const_factor"] == 3


def test_perturb_with_resample():
    pbt, runner = basic_setup(resample_prob=1.0)
    trials = runner.get_trials()
    assert pbt.on_trial_result(runner, trials[0], result(20, -100)) == CONTINUE
    assert trials[0].restored_checkpoint in ["trial_3", "trial_4"]
    config = trials[0].config
    assert config["id_factor"] == 100
    assert config["float_factor"] == 100.0 and type(config["float_factor"]) is float
    assert config["int_factor"] == 10 and type(config["int_factor"]) is int
    assert config["const_factor"] == 3


def test_tag_format():
    pbt, runner = basic_setup()
    trial = runner.get_trials()[0]
    pbt.on_trial_result(runner, trial, result(20, -100))
    c = trial.config
    assert trial.experiment_tag == (f"tag@perturbed[float_factor={c['float_factor']:.5},id_factor=100,"
                                    f"int_factor={c['int_factor']}]")


def produces(fn, values):
    random.seed(0)
    assert {fn()["v"] for _ in range(100)} == values


def test_perturbation_values():
    cat = [3, 4, 8, 10]
    produces(lambda: explore({"v": 4}, {"v": cat}, 0.0, lambda x: x), {3, 8})
    produces(lambda: explore({"v": 3}, {"v": cat}, 0.0, lambda x: x), {3, 4})
    produces(lambda: explore({"v": 10}, {"v": cat}, 0.0, lambda x: x), {8, 10})
    produces(lambda: explore({"v": 7}, {"v": cat}, 0.0, lambda x: x), {3, 4, 8, 10})
    produces(lambda: explore({"v": 4}, {"v": cat}, 1.0, lambda x: x), {3, 4, 8, 10})
    produces(lambda: explore({"v": 100}, {"v": lambda: random.choice([10, 100])}, 0.0, lambda x: x), {80, 120})
    produces(lambda: explore({"v": 100.0}, {"v": lambda: random.choice([10, 100])}, 0.0, lambda x: x),
             {80.0, 120.0})
    produces(lambda: explore({"v": 100.0}, {"v": lambda: random.choice([10, 100])}, 1.0, lambda x: x),
             {10.0, 100.0})


def test_explore_domains_nesting_and_seeded_rng():
    rng = random.Random(1)
    mutations = {"lr": uniform(0.1, 0.2), "layers": randint(1, 4), "act": choice(["a", "b", "c"]),
                 "opt": {"momentum": [0.8, 0.9, 0.99]}}
    config = {"lr": 1.0, "layers": 10, "act": "b", "opt": {"momentum": 0.9}, "keep": "me"}
    seen = [explore(config, mutations, 0.0, random_state=rng) for _ in range(50)]
    assert {c["lr"] for c in seen} == {1.2, 0.8}
    assert {c["layers"] for c in seen} == {12, 8}
    assert {c["act"] for c in seen} == {"a", "c"}
    assert {c["opt"]["momentum"] for c in seen} == {0.8, 0.99}
    assert all(c["keep"] == "me" for c in seen)
    resampled = explore(config, mutations, 1.0, random_state=rng)
    assert 0.1 <= resampled["lr"] <= 0.2 and 1 <= resampled["layers"] < 4
    assert explore(config, mutations, 0.3, random_state=random.Random(5)) == \
        explore(config, mutations, 0.3, random_state=random.Random(5))


def test_yields_time_to_other_trials():
    pbt, runner = basic_setup()
    trials = runner.get_trials()
    trials[0].status = Trial.PENDING  # simulate not enough resources
    assert pbt.on_trial_result(runner, trials[1], result(20, 1000)) == PAUSE
    assert pbt.last_scores(trials) == [0, 1000, 100, 150, 200]
    assert pbt.choose_trial_to_run(runner) is trials[0]


def test_schedules_most_behind_trial_to_run():
    pbt, runner = basic_setup()
    trials = runner.get_trials()
    for trial, (t, r) in zip(trials, [(800, 1000), (700, 1001), (600, 1002), (500, 1003), (700, 1004)]):
        pbt.on_trial_result(runner, trial, result(t, r))
    assert pbt.choose_trial_to_run(runner) is None
    for trial in trials:
        trial.status = Trial.PENDING
    assert pbt.choose_trial_to_run(runner) is trials[3]


def test_perturbation_resets_last_perturb_time():
    pbt, runner = basic_setup()
    trials = runner.get_trials()
    pbt.on_trial_result(runner, trials[0], result(10000, 1005))
    pbt.on_trial_result(runner, trials[1], result(10000, 1004))
    pbt.on_trial_result(runner, trials[2], result(600, 1003))
    assert pbt._num_perturbations == 0
    pbt.on_trial_result(runner, trials[3], result(500, 1002))
    assert pbt._num_perturbations == 1
    assert trials[3].last_perturbation_time == 10000  # copied from the cloned trial
    pbt.on_trial_result(runner, trials[3], result(600, 100))
    assert pbt._num_perturbations == 1
    pbt.on_trial_result(runner, trials[3], result(11000, 100))
    assert pbt._num_perturbations == 2


def test_postprocessing_hook():
    def custom(new_config):
        new_config["id_factor"] = 42
        new_config["float_factor"] = 43
        return new_config

    pbt, runner = basic_setup(resample_prob=0.0, explore_fn=custom)
    trials = runner.get_trials()
    assert pbt.on_trial_result(runner, trials[0], result(20, -100)) == CONTINUE
    assert trials[0].config["id_factor"] == 42
    assert trials[0].config["float_factor"] == 43


def test_never_exploits_a_donor_without_checkpoint():
    pbt, runner = basic_setup()
    trials = runner.get_trials()
    for trial in trials[3:]:
        pbt._trial_state[trial].last_checkpoint = None  # e.g. a trainable that could not save
    assert pbt.on_trial_result(runner, trials[0], result(20, -100)) == CONTINUE
    assert pbt._num_perturbations == 0
    assert "@perturbed" not in trials[0].experiment_tag
    assert pbt.exploit_log == []


def test_exploit_log_records_every_exploit():
    pbt, runner = basic_setup()
    trials = runner.get_trials()
    old_config = dict(trials[0].config)
    pbt.on_trial_result(runner, trials[0], result(20, -100))
    (entry,) = pbt.exploit_log
    assert entry["time"] == 20 and entry["trial_id"] == trials[0].trial_id
    assert entry["donor_id"] in (trials[3].trial_id, trials[4].trial_id)
    assert entry["old_config"] == old_config and entry["new_config"] == trials[0].config
    assert entry["old_tag"] == "tag" and entry["new_tag"] == trials[0].experiment_tag
    pickle.dumps(pbt.exploit_log)
    quiet, quiet_runner = basic_setup(log_config=False)
    quiet.on_trial_result(quiet_runner, quiet_runner.get_trials()[0], result(20, -100))
    assert quiet.exploit_log == [] and quiet._num_perturbations == 1


def test_seeded_runs_are_identical():
    def run(seed):
        pbt, runner = basic_setup(resample_prob=0.5, seed=seed)
        trials = runner.get_trials()
        for step in range(2, 8):
            for i, trial in enumerate(trials):
                pbt.on_trial_result(runner, trial, result(10 * step, (i * 37 + step * 11) % 50))
        index = {t.trial_id: i for i, t in enumerate(trials)}
        return [(index[e["trial_id"]], index[e["donor_id"]], e["new_config"]) for e in pbt.exploit_log]

    assert run(7) == run(7)


def test_mode_min_and_metric():
    pbt = PopulationBasedTraining(time_attr="training_iteration", metric="loss", mode="min", perturbation_interval=1,
                                  hyperparam_mutations={"lr": [1, 2, 3]}, seed=0)
    runner = MockRunner(pbt)
    trials = [runner.add_trial(Trial(f"t{i}", {"lr": 2})) for i in range(4)]
    for i, t in enumerate(trials):
        t.status = Trial.RUNNING
        pbt.on_trial_result(runner, t, {"training_iteration": 1, "loss": float(i)})
    pbt.on_trial_result(runner, trials[0], {"training_iteration": 2, "loss": 0.0})  # top: checkpointed
    assert trials[0].checkpoint is not None and pbt.exploit_log == []
    pbt.on_trial_result(runner, trials[3], {"training_iteration": 2, "loss": 10.0})
    assert pbt.exploit_log[-1]["trial_id"] == trials[3].trial_id
    assert pbt.exploit_log[-1]["donor_id"] == trials[0].trial_id  # the lowest loss


def test_missing_mutation_keys_are_sampled_at_add():
    pbt = PopulationBasedTraining(hyperparam_mutations={"lr": uniform(0.1, 0.2), "bs": [16, 32]}, seed=0)
    trial = Trial("t", {"other": 1})
    pbt.on_trial_add(None, trial)
    assert 0.1 <= trial.config["lr"] <= 0.2 and trial.config["bs"] in (16, 32) and trial.config["other"] == 1


def test_require_attrs():
    strict = PopulationBasedTraining(hyperparam_mutations={"lr": [1, 2]})
    trial = Trial("t", {"lr": 1})
    trial.last_result = {"time_total_s": 1}
    with pytest.raises(TuneError, match="episode_reward_mean"):
        strict.on_trial_result(None, trial, {"time_total_s": 2})
    lenient = PopulationBasedTraining(hyperparam_mutations={"lr": [1, 2]}, require_attrs=False)
    assert lenient.on_trial_result(None, Trial("t", {"lr": 1}), {"time_total_s": 2}) == CONTINUE


@pytest.mark.parametrize("kwargs", [
    dict(), dict(hyperparam_mutations={}), dict(hyperparam_mutations={"a": 3}), dict(hyperparam_mutations={"a": []}),
    dict(hyperparam_mutations={"a": [1]}, quantile_fraction=0.6), dict(hyperparam_mutations={"a": [1]}, mode="x"),
    dict(hyperparam_mutations={"a": [1]}, perturbation_interval=0),
])
def test_bad_arguments(kwargs):
    with pytest.raises(TuneError):
        PopulationBasedTraining(**kwargs)


def test_custom_explore_fn_alone_is_enough():
    assert PopulationBasedTraining(custom_explore_fn=lambda c: c).needs_checkpoints


def test_burn_in_period():
    pbt, runner = basic_setup(burn_in_period=25)
    trials = runner.get_trials()
    assert pbt.on_trial_result(runner, trials[0], result(20, -100)) == CONTINUE
    assert pbt._num_perturbations == 0


def test_synch_mode_waits_for_the_whole_population():
    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=10, synch=True,
                                  hyperparam_mutations={"lr": [1, 2, 3]}, seed=0)
    runner = MockRunner(pbt)
    trials = [runner.add_trial(Trial(f"t{i}", {"lr": 2})) for i in range(4)]
    for t in trials:
        runner.launch(t)
    for i, t in enumerate(trials[:3]):
        assert pbt.on_trial_result(runner, t, result(10, i)) == PAUSE
        runner.process_action(t, PAUSE)
        t.checkpoint = runner.checkpoint_trial(t)  # the controller saves on pause
        # waiting at the barrier: not restarted before the round (it would run on and miss its exploit)
        assert pbt.choose_trial_to_run(runner) is None
    assert pbt._num_perturbations == 0
    assert pbt.on_trial_result(runner, trials[3], result(10, 3)) == PAUSE  # the last one: judge everyone
    assert pbt._num_perturbations == 1
    assert pbt.exploit_log[0]["trial_id"] == trials[0].trial_id
    assert pbt.exploit_log[0]["donor_id"] == trials[3].trial_id
    assert pbt.choose_trial_to_run(runner) in trials[:3]


def test_save_and_restore_state():
    pbt, runner = basic_setup(seed=4)
    trials = runner.get_trials()
    pbt.on_trial_result(runner, trials[0], result(20, -100))
    state = pickle.loads(pickle.dumps(pbt.save_state()))
    fresh = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=10, resample_probability=0.0,
                                    hyperparam_mutations={"id_factor": [100], "float_factor": lambda: 100.0,
                                                          "int_factor": lambda: 10})
    fresh.restore_state(state, {t.trial_id: t for t in trials})
    assert fresh.last_scores(trials) == pbt.last_scores(trials)
    assert fresh.debug_string() == pbt.debug_string() == "PopulationBasedTraining: 0 checkpoints, 1 perturbs"
    assert fresh.exploit_log == pbt.exploit_log
    # both continue identically: the same donor pick and the same explore draws
    a = pbt.on_trial_result(runner, trials[2], result(20, 40))
    config_a = dict(trials[2].config)
    trials[2].config = dict(pbt.exploit_log[-1]["old_config"])
    b = fresh.on_trial_result(runner, trials[2], result(20, 40))
    assert a == b and trials[2].config == config_a
