"""2018 Ray Tune scripts run unchanged but for `import tunelab as tune` (issue 10).

One test (or group) per row of the issue's table: late trainable names, the 2018 keywords and positional
orders of every scheduler and searcher, the 2018 module paths, AsyncHyperBandScheduler's 2018 defaults,
the pre-seed `BasicVariantGenerator({name: spec})`, hand-built trials, and TuneError for bad options.
"""
import importlib
import logging
import os
import re
import uuid

import pytest

import tunelab as tune
from tunelab import Experiment, TuneError, register_trainable, run_experiments
from tunelab.schedulers import (
    ASHAScheduler,
    AsyncHyperBandScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    TrialScheduler,
)
from tunelab.suggest import BasicVariantGenerator, ConcurrencyLimiter, HyperOptSearch, OptunaSearch, Repeater
from tunelab.trial import Resources, Trial

NAN, INF = float("nan"), float("inf")


def _name(prefix):
    """A trainable name no other test registered (the registry is process-wide)."""
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def _count_to(config, reporter):
    for i in range(config.get("iterations", 3)):
        reporter(timesteps_total=i, mean_loss=config.get("loss", 1.0))


def _trial_dirs(results_dir):
    return [os.path.join(root, d) for root, dirs, _ in os.walk(results_dir) for d in dirs] if os.path.isdir(
        results_dir) else []


# -- row 1: trainable names resolved when trials are created ---------------------------------------
def test_experiment_built_before_its_trainable_is_registered():
    name = _name("my_func")
    experiment = Experiment("exp", run=name, stop={"training_iteration": 2})
    from_json = Experiment.from_json("exp_json", {"run": name, "config": {"iterations": 2}})
    spec = {"exp_dict": {"run": name, "config": {"iterations": 2}}}
    register_trainable(name, _count_to)  # after every spec was built, as 2018 scripts often did

    trials = run_experiments([experiment, from_json], verbose=0) + run_experiments(spec, verbose=0)
    assert [t.trainable_name for t in trials] == [name] * 3
    assert all(t.status == Trial.TERMINATED and t.last_result["training_iteration"] == 2 for t in trials)


def test_a_name_still_unknown_at_run_time_fails_before_any_trial_starts(results_dir):
    register_trainable(_name("known"), _count_to)
    missing = _name("missing")
    experiment = Experiment("exp", run=missing)  # building it is fine ...
    with pytest.raises(TuneError, match=f"Unknown trainable '{missing}'; registered trainables: \\[.*known_"):
        run_experiments(experiment, verbose=0)  # ... running it is not
    with pytest.raises(TuneError, match=missing):
        tune.run(experiment, verbose=0)
    assert _trial_dirs(results_dir) == []  # no trial ever started
    with pytest.raises(TuneError, match=missing):  # nor is a trial created from it
        BasicVariantGenerator({"exp": {"run": missing}}).next_trials()


# -- row 2: every 2018 keyword (and positional order) of every scheduler and searcher ----------------
def _median_result(t, reward):
    return {"time_total_s": t, "episode_reward_mean": reward, "training_iteration": int(t)}


def _median_stop_decision(scheduler):
    """The seed test: t1 completes with 1000 after 100*i rewards; t2 stuck at 450 is stopped at t=10."""
    t1, t2 = Trial("PPO"), Trial("PPO")
    for trial in (t1, t2):
        scheduler.on_trial_add(None, trial)
    for i in range(10):
        scheduler.on_trial_result(None, t1, _median_result(i, i * 100))
    scheduler.on_trial_complete(None, t1, _median_result(10, 1000))
    for i in range(5):
        assert scheduler.on_trial_result(None, t2, _median_result(i, 450)) == TrialScheduler.CONTINUE
    return scheduler.on_trial_result(None, t2, _median_result(10, 450))


@pytest.mark.parametrize("verbose", [True, False])
def test_median_stopping_rule_verbose_controls_its_log_message(verbose, caplog):
    scheduler = MedianStoppingRule(time_attr="time_total_s", reward_attr="episode_reward_mean", grace_period=0,
                                   min_samples_required=1, verbose=verbose)
    with caplog.at_level(logging.INFO, logger="tunelab.schedulers.median_stopping"):
        assert _median_stop_decision(scheduler) == TrialScheduler.STOP
    logged = [r.getMessage() for r in caplog.records if "MedianStoppingRule" in r.getMessage()]
    if verbose:
        assert len(logged) == 1 and "stopping trial PPO" in logged[0] and "median=" in logged[0]
    else:
        assert logged == []


def test_median_stopping_rule_seed_positional_order():
    # (time_attr, reward_attr, grace_period, min_samples_required, hard_stop, verbose)
    scheduler = MedianStoppingRule("time_total_s", "episode_reward_mean", 0, 1, False, False)
    assert _median_stop_decision(scheduler) == TrialScheduler.PAUSE  # hard_stop=False pauses


def test_asha_2018_keywords_and_positional_order():
    by_keyword = AsyncHyperBandScheduler(time_attr="training_iteration", reward_attr="neg_mean_loss", max_t=50,
                                         grace_period=5, reduction_factor=2, brackets=1)
    by_position = AsyncHyperBandScheduler("training_iteration", "neg_mean_loss", 50, 5, 2, 1)
    for scheduler in (by_keyword, by_position):
        assert [r.milestone for r in scheduler._brackets[0].rungs] == [5, 10, 20, 40]
        assert scheduler._objective.metric == "neg_mean_loss" and scheduler._objective.mode == "max"


def test_asha_scheduler_takes_todays_positional_order():
    scheduler = ASHAScheduler("training_iteration", "loss", "min", 27, 3, 3)
    assert [r.milestone for r in scheduler._brackets[0].rungs] == [3, 9, 27]
    assert (scheduler._objective.metric, scheduler._objective.mode) == ("loss", "min")
    assert isinstance(scheduler, AsyncHyperBandScheduler)


def test_hyperband_and_pbt_2018_keywords_and_positional_order():
    hyperband = HyperBandScheduler("training_iteration", "neg_mean_loss", 27)
    assert hyperband._max_t_attr == 27 and hyperband._objective.metric == "neg_mean_loss"
    explore = lambda config: config  # noqa: E731
    mutations = {"lr": [0.1, 0.01]}
    by_keyword = PopulationBasedTraining(time_attr="training_iteration", reward_attr="mean_accuracy",
                                         perturbation_interval=5, hyperparam_mutations=mutations,
                                         resample_probability=0.5, custom_explore_fn=explore)
    by_position = PopulationBasedTraining("training_iteration", "mean_accuracy", 5, mutations, 0.5, explore)
    for pbt in (by_keyword, by_position):
        assert (pbt._perturbation_interval, pbt._hyperparam_mutations, pbt._resample_probability,
                pbt._custom_explore_fn) == (5, mutations, 0.5, explore)
        assert pbt._objective.metric == "mean_accuracy"


def test_hyperopt_search_2018_keywords_and_positional_order():
    from hyperopt import hp

    space = {"width": hp.uniform("width", 0, 20)}
    by_keyword = HyperOptSearch(space, max_concurrent=4, reward_attr="neg_mean_loss")
    by_position = HyperOptSearch(space, 4, "neg_mean_loss")
    for searcher in (by_keyword, by_position):
        assert (searcher.metric, searcher.mode, searcher._max_concurrent) == ("neg_mean_loss", "max", 4)
    assert HyperOptSearch(space, 2).metric is None  # the seed default applies later (episode_reward_mean)
    with pytest.raises(TuneError, match="max_concurrent twice"):
        HyperOptSearch(space, 4, max_concurrent=3)


def test_suggestion_algorithm_written_the_2018_way():
    from tunelab.suggest.suggestion import SuggestionAlgorithm

    class Constant(SuggestionAlgorithm):  # a 2018 subclass: no arguments to super().__init__
        def __init__(self, max_concurrent=2):
            self._max = max_concurrent
            self.live = set()
            super().__init__()

        def _suggest(self, trial_id):
            if len(self.live) >= self._max:
                return None
            self.live.add(trial_id)
            return {"x": 1}

        def on_trial_complete(self, trial_id, result=None, error=False, early_terminated=False):
            self.live.discard(trial_id)
            super().on_trial_complete(trial_id, result, error, early_terminated)

    name = _name("constant")
    register_trainable(name, _count_to)
    algo = Constant()
    algo.add_configurations({"exp": {"run": name, "num_samples": 3}})
    assert len(algo.next_trials()) == 2  # throttled at max_concurrent
    runs = run_experiments({"exp": {"run": name, "num_samples": 3}}, search_alg=Constant(), verbose=0)
    assert len(runs) == 3 and all(t.config == {"x": 1} for t in runs)


# -- row 3: the 2018 module paths -----------------------------------------------------------------
SEED_PATHS = {
    "tunelab": ["Trainable", "TuneError", "grid_search", "register_env", "register_trainable", "run_experiments",
                "Experiment", "function"],
    "tunelab.schedulers": ["TrialScheduler", "FIFOScheduler", "MedianStoppingRule", "HyperBandScheduler",
                           "AsyncHyperBandScheduler", "PopulationBasedTraining"],
    "tunelab.schedulers.trial_scheduler": ["TrialScheduler", "FIFOScheduler"],
    "tunelab.schedulers.async_hyperband": ["AsyncHyperBandScheduler"],
    "tunelab.schedulers.hyperband": ["HyperBandScheduler"],
    "tunelab.schedulers.median_stopping_rule": ["MedianStoppingRule"],
    "tunelab.schedulers.pbt": ["PopulationBasedTraining"],
    "tunelab.suggest": ["SearchAlgorithm", "BasicVariantGenerator", "SuggestionAlgorithm", "HyperOptSearch",
                        "grid_search", "function"],
    "tunelab.suggest.search": ["SearchAlgorithm"],
    "tunelab.suggest.basic_variant": ["BasicVariantGenerator"],
    "tunelab.suggest.suggestion": ["SuggestionAlgorithm", "_MockSuggestionAlgorithm"],
    "tunelab.suggest.hyperopt": ["HyperOptSearch"],
    "tunelab.suggest.variant_generator": ["generate_variants", "grid_search", "function"],
    "tunelab.util": ["pin_in_object_store", "get_pinned_object"],
    "tunelab.web_server": ["TuneClient", "TuneServer"],
    "tunelab.trial": ["Trial", "Resources", "Checkpoint"],
    "tunelab.trial_runner": ["TrialRunner"],
    "tunelab.result": ["DONE", "TIMESTEPS_TOTAL", "TRAINING_ITERATION", "TIME_TOTAL_S", "EPISODE_REWARD_MEAN",
                       "MEAN_ACCURACY", "MEAN_LOSS", "EPISODES_TOTAL", "DEFAULT_RESULTS_DIR"],
    "tunelab.registry": ["register_trainable", "register_env", "get_trainable"],
    "tunelab.trainable": ["Trainable"],
    "tunelab.error": ["TuneError"],
    "tunelab.experiment": ["Experiment"],
    "tunelab.logger": ["pretty_print"],
    "tunelab.tune": ["run_experiments"],
}


@pytest.mark.parametrize("module, names", SEED_PATHS.items(), ids=list(SEED_PATHS))
def test_2018_module_paths_import(module, names):
    mod = importlib.import_module(module)
    missing = [name for name in names if getattr(mod, name, None) is None]
    assert missing == [], f"{module} lacks {missing}"


def test_result_constants_are_the_keys_tunelab_reports():
    from tunelab.result import (
        DONE,
        EPISODE_REWARD_MEAN,
        MEAN_ACCURACY,
        MEAN_LOSS,
        TIME_TOTAL_S,
        TIMESTEPS_TOTAL,
        TRAINING_ITERATION,
    )

    def train(config, reporter):
        reporter(**{TIMESTEPS_TOTAL: 5, MEAN_ACCURACY: 0.5, MEAN_LOSS: 0.25, EPISODE_REWARD_MEAN: 1})

    [trial] = run_experiments({"consts": {"run": train, "stop": {TRAINING_ITERATION: 1}}}, verbose=0)
    result = trial.last_result
    assert result[TIMESTEPS_TOTAL] == 5 and result[TRAINING_ITERATION] == 1 and result[DONE] is True
    assert result[TIME_TOTAL_S] >= 0 and result["neg_mean_loss"] == -0.25


def test_register_env_stores_the_creator():
    from tunelab.registry import get_env_creator

    name = _name("MyEnv-v0")
    tune.register_env(name, lambda env_config: ("env", env_config))
    assert get_env_creator(name)({"a": 1}) == ("env", {"a": 1})
    tune.register_env(name, lambda env_config: "again")  # re-registering overwrites, as in 2018
    assert get_env_creator(name)({}) == "again"
    with pytest.raises(TypeError, match="env_creator"):
        tune.register_env("foo", 2)  # the seed test: a non-callable creator is a TypeError
    with pytest.raises(TuneError, match="Unknown env 'nope'"):
        get_env_creator("nope")


# -- TrialRunner as 2018 tests drove it ----------------------------------------------------------
def test_trial_runner_steps_one_action_at_a_time_with_resource_gating(fresh_executor, results_dir):
    """The seed's testResourceScheduler: two 1-CPU/1-GPU trials on 4 CPUs and 1 GPU."""
    from tunelab.trial_runner import TrialRunner

    tune.init(num_cpus=4, num_gpus=1)
    runner = TrialRunner(BasicVariantGenerator())
    kwargs = {"stopping_criterion": {"training_iteration": 1}, "resources": Resources(cpu=1, gpu=1)}
    trials = [Trial("__fake", **kwargs), Trial("__fake", **kwargs)]  # the seed's built-in mock trainable
    for trial in trials:
        runner.add_trial(trial)
    expected = [(Trial.RUNNING, Trial.PENDING), (Trial.TERMINATED, Trial.PENDING),
                (Trial.TERMINATED, Trial.RUNNING), (Trial.TERMINATED, Trial.TERMINATED)]
    for states in expected:
        runner.step()
        assert (trials[0].status, trials[1].status) == states
    assert runner.is_finished() and runner.get_trials() == trials
    with pytest.raises(TuneError, match="all trials finished"):
        runner.step()
    assert "== Status ==" in runner.debug_string() and "Using FIFO" in runner.debug_string()
    for trial in trials:  # hand-built trials write under the results folder, with their results
        assert trial.logdir.startswith(results_dir)
        assert os.path.isfile(os.path.join(trial.logdir, "result.json"))
        assert trial.last_result["episode_reward_mean"] == 10 and trial.last_result["timesteps_total"] == 10


@pytest.mark.parametrize("max_failures, status", [(0, Trial.ERROR), (1, Trial.TERMINATED)])
def test_trial_runner_failure_recovery_with_the_fake_trainable(max_failures, status):
    """The seed's testFailureRecoveryDisabled/Enabled: `mock_error` fails the second iteration once."""
    from tunelab.trial_runner import TrialRunner

    runner = TrialRunner(BasicVariantGenerator())
    trial = Trial("__fake", config={"mock_error": True}, checkpoint_freq=1, max_failures=max_failures,
                  stopping_criterion={"training_iteration": 3})
    runner.add_trial(trial)
    while not runner.is_finished():
        runner.step()
    assert (trial.status, trial.num_failures) == (status, 1)
    with open(trial.error_file) as f:
        assert "mock error" in f.read()
    if status == Trial.TERMINATED:  # restored from the checkpoint of iteration 1, not from scratch
        assert trial.last_result["training_iteration"] == 3
        assert trial.last_result["iterations_since_restore"] == 2


def test_trial_runner_stop_trial_and_search_alg_notifications():
    """The seed's testStopTrial and testSearchAlgNotification, with its `_MockSuggestionAlgorithm`."""
    from tunelab.suggest.suggestion import _MockSuggestionAlgorithm
    from tunelab.trial_runner import TrialRunner

    name = _name("__fake")
    register_trainable(name, _count_to)
    search_alg = _MockSuggestionAlgorithm(max_concurrent=1)
    search_alg.add_configurations({"foo": {"run": name, "stop": {"training_iteration": 2},
                                           "config": {"iterations": 100}}})
    runner = TrialRunner(search_alg=search_alg)
    runner.step()  # the searcher's trial starts
    [suggested] = runner.get_trials()
    assert suggested.status == Trial.RUNNING and suggested.config == {"test_variable": 2, "iterations": 100}
    while not runner.is_finished():
        runner.step()
    assert suggested.status == Trial.TERMINATED
    assert search_alg.counter == {"result": 1, "complete": 1}  # one result, then the stopping one



def test_trial_runner_stop_trial(fresh_executor):
    """The seed's testStopTrial: stopping a RUNNING trial ends it at once and the next one starts on the
    next step; a PENDING trial stopped never runs."""
    from tunelab.trial_runner import TrialRunner

    tune.init(num_cpus=1)
    name = _name("__fake")
    register_trainable(name, _count_to)
    runner = TrialRunner(BasicVariantGenerator())
    running, waiting, never = (Trial(name, config={"iterations": n}) for n in (10_000, 3, 3))
    for trial in (running, waiting, never):
        runner.add_trial(trial)
    runner.step()
    assert (running.status, waiting.status, never.status) == (Trial.RUNNING, Trial.PENDING, Trial.PENDING)
    runner.stop_trial(running)
    runner.stop_trial(never)
    assert (running.status, never.status) == (Trial.TERMINATED, Trial.TERMINATED)
    runner.step()
    assert waiting.status == Trial.RUNNING
    while not runner.is_finished():
        runner.step()
    assert waiting.status == Trial.TERMINATED and waiting.last_result["training_iteration"] == 3
    assert never.logdir is None and never.last_result == {}  # it never ran


def test_trial_runner_throws_on_overstep():
    """The seed's testThrowOnOverstep: an empty runner finishes in one step; the next one raises."""
    from tunelab.trial_runner import TrialRunner

    runner = TrialRunner(BasicVariantGenerator())
    runner.step()
    assert runner.is_finished()
    with pytest.raises(TuneError, match="all trials finished"):
        runner.step()


def test_trial_runner_refuses_what_tunelab_lacks():
    from tunelab.trial_runner import TrialRunner

    with pytest.raises(TuneError, match="trial_executor"):
        TrialRunner(BasicVariantGenerator(), trial_executor=object())
    # queue_trials (either value: trials wait for resources held by others, a request that never fits fails)
    TrialRunner(BasicVariantGenerator(), queue_trials=True)
    TrialRunner(BasicVariantGenerator(), queue_trials=False, verbose=False)


# -- row 4: AsyncHyperBandScheduler's 2018 defaults in an unmodified 2018 script ----------------------
def test_unmodified_2018_hyperopt_script_gives_every_trial_ten_iterations():
    """The 2018 hyperopt_example.py, but for `import tunelab as tune` and the experiment built first."""
    from hyperopt import hp

    name = _name("exp")

    def easy_objective(config, reporter):
        assert type(config["activation"]) is str, "Config is incorrect: {}".format(type(config["activation"]))
        for i in range(config["iterations"]):
            reporter(timesteps_total=i, mean_loss=(config["height"] - 14) ** 2 - abs(config["width"] - 3))

    config = {"my_exp": {"run": name, "num_samples": 10, "stop": {"training_iteration": 100},
                         "config": {"iterations": 100}}}
    experiments = [Experiment.from_json(n, spec) for n, spec in config.items()]
    tune.register_trainable(name, easy_objective)
    space = {"width": hp.uniform("width", 0, 20), "height": hp.uniform("height", -100, 100),
             "activation": hp.choice("activation", ["relu", "tanh"])}
    algo = HyperOptSearch(space, max_concurrent=4, reward_attr="neg_mean_loss")
    scheduler = AsyncHyperBandScheduler(reward_attr="neg_mean_loss")
    trials = tune.run_experiments(experiments, search_alg=algo, scheduler=scheduler, verbose=0)

    assert len(trials) == 10 and all(t.status == Trial.TERMINATED for t in trials)
    iterations = [t.last_result["training_iteration"] for t in trials]
    assert all(10 <= i <= 100 for i in iterations), iterations  # grace_period=10: no trial stopped before 10
    assert "Iter 90.000" in scheduler.debug_string() and "Iter 10.000" in scheduler.debug_string()


def test_asha_default_grace_period_fits_a_small_max_t():
    scheduler = AsyncHyperBandScheduler(max_t=5)  # 2018: grace 10 > max_t meant no rung, no early stop
    trials = [Trial("x") for _ in range(3)]
    for trial in trials:
        scheduler.on_trial_add(None, trial)
    decisions = [scheduler.on_trial_result(None, t, {"training_iteration": 4, "episode_reward_mean": r})
                 for t, r in zip(trials, (3, 2, 1))]
    assert decisions == [TrialScheduler.CONTINUE] * 3
    with pytest.raises(TuneError, match="grace_period=20 must not exceed max_t=5"):
        AsyncHyperBandScheduler(max_t=5, grace_period=20)


# -- row 5: the pre-seed BasicVariantGenerator({name: spec}) ---------------------------------------
def test_basic_variant_generator_pre_seed_call_form():
    name = _name("f1")
    register_trainable(name, _count_to)
    generator = BasicVariantGenerator({"foo": {"run": name, "config": {"x": tune.grid_search([1, 2])}}})
    assert [t.experiment_tag for t in generator.next_trials()] == ["0_x=1", "1_x=2"]
    assert generator.is_finished()

    trials = run_experiments(search_alg=BasicVariantGenerator({"foo": {"run": name}}), verbose=0)
    assert [t.status for t in trials] == [Trial.TERMINATED]
    with pytest.raises(TuneError, match="points_to_evaluate.*got 5"):
        BasicVariantGenerator(5)
    with pytest.raises(TuneError, match="Improper argument.*'bah'"):
        BasicVariantGenerator({"foo": {"run": name, "bah": 1}})


# -- row 6: a hand-built Trial writes under the results folder --------------------------------------
def test_hand_built_trial_defaults_to_the_results_folder(results_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Trial("__fake").local_dir == results_dir
    monkeypatch.delenv("TUNELAB_RESULTS_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Trial("__fake").local_dir == str(tmp_path / "home" / "tunelab_results")
    assert Trial("__fake", local_dir="~/elsewhere").local_dir == str(tmp_path / "home" / "elsewhere")


# -- bad options: TuneError naming the option and the value ------------------------------------------
BAD_OPTIONS = [
    (AsyncHyperBandScheduler, dict(max_t=NAN), "max_t"),
    (AsyncHyperBandScheduler, dict(max_t=INF), "max_t"),
    (AsyncHyperBandScheduler, dict(grace_period=NAN), "grace_period"),
    (AsyncHyperBandScheduler, dict(reduction_factor=NAN), "reduction_factor"),
    (AsyncHyperBandScheduler, dict(brackets=2.5), "brackets"),
    (ASHAScheduler, dict(max_t=-1), "max_t"),
    (HyperBandScheduler, dict(max_t=INF), "max_t"),
    (HyperBandScheduler, dict(reduction_factor=NAN), "reduction_factor"),
    (MedianStoppingRule, dict(grace_period=NAN), "grace_period"),
    (MedianStoppingRule, dict(min_time_slice=-1), "min_time_slice"),
    (MedianStoppingRule, dict(min_samples_required=0), "min_samples_required"),
    (PopulationBasedTraining, dict(perturbation_interval=NAN), "perturbation_interval"),
    (PopulationBasedTraining, dict(burn_in_period=INF), "burn_in_period"),
    (PopulationBasedTraining, dict(resample_probability=NAN), "resample_probability"),
    (PopulationBasedTraining, dict(quantile_fraction=0.75), "quantile_fraction"),
    (PopulationBasedTraining, dict(perturbation_factors=(1.2, NAN)), "perturbation_factors"),
    (PopulationBasedTraining, dict(custom_explore_fn=3), "custom_explore_fn"),
    (HyperOptSearch, dict(gamma=NAN), "gamma"),
    (HyperOptSearch, dict(n_initial_points=-1), "n_initial_points"),
    (HyperOptSearch, dict(max_concurrent=1.5), "max_concurrent"),
    (OptunaSearch, dict(max_concurrent=-1), "max_concurrent"),
    (BasicVariantGenerator, dict(max_concurrent=NAN), "max_concurrent"),
    (lambda **kw: ConcurrencyLimiter(HyperOptSearch(), **kw), dict(max_concurrent=0), "max_concurrent"),
    (lambda **kw: Repeater(HyperOptSearch(), **kw), dict(repeat=INF), "repeat"),
]


@pytest.mark.parametrize("factory, kwargs, option", BAD_OPTIONS,
                         ids=[f"{getattr(f, '__name__', 'wrapper')}-{o}" for f, _, o in BAD_OPTIONS])
def test_bad_numeric_options_are_tune_errors_naming_them(factory, kwargs, option):
    if factory is PopulationBasedTraining:
        kwargs = {"hyperparam_mutations": {"lr": [1, 2]}, **kwargs}
    value = next(iter(v for k, v in kwargs.items() if k != "hyperparam_mutations"))
    shown = repr(value[1] if isinstance(value, tuple) else value)
    with pytest.raises(TuneError, match=rf"\({option}=\.\.\.\).* must be .*got {re.escape(shown)}"):
        factory(**kwargs)


@pytest.mark.parametrize("factory, kwargs, shown", [
    (AsyncHyperBandScheduler, dict(time_attr=5), r"\(time_attr=\.\.\.\) must be the name of a result key.*got 5"),
    (MedianStoppingRule, dict(reward_attr=3), r"\(reward_attr=\.\.\.\) must be None or the name of a result.*got 3"),
    (PopulationBasedTraining, dict(metric="", hyperparam_mutations={"lr": [1]}), r"\(metric=\.\.\.\) must be .*got ''"),
    (HyperOptSearch, dict(metric=5.5), r"\(metric=\.\.\.\) must be None or the name of a result key.*got 5.5"),
    (HyperOptSearch, dict(space=[1, 2]), "space must be a dict.*got \\[1, 2\\]"),
])
def test_bad_keys_and_spaces_are_tune_errors(factory, kwargs, shown):
    with pytest.raises(TuneError, match=shown):
        factory(**kwargs)


@pytest.mark.parametrize("experiments, shown", [
    (5, "got 5"),
    (["exp"], "got \\['exp'\\]"),
    ({"e": 5}, "must be a dict, got int"),
    ({"e": {"run": _count_to, "local_dir": 5}}, "local_dir must be a string.*got 5"),
    ({"e": {"run": _count_to, "restore": 5}}, "restore must be a string.*got 5"),
    ({"e": {"run": _count_to, "checkpoint_at_end": "yes"}}, "checkpoint_at_end must be True or False, got 'yes'"),
    ({"e": {"run": _count_to, "keep_checkpoints_num": True}}, "keep_checkpoints_num .* got True"),
    ({"e": {"run": _count_to, "resources_per_trial": {"cpu": NAN}}}, "cpu in resources_per_trial must be .*got nan"),
    ({"e": {"run": _count_to, "bah": 1}}, "unknown key\\(s\\) \\['bah'\\]"),
    ({"e": {"run": ""}}, "empty string"),
])
def test_bad_spec_forms_are_tune_errors(experiments, shown):
    with pytest.raises(TuneError, match=shown):
        run_experiments(experiments, verbose=0)


def test_validation_helpers_for_lists_and_keys():
    from tunelab.validation import check_key, check_numbers

    assert check_numbers("f(xs=...)", [1, 2.5], minimum=0) == (1, 2.5)
    with pytest.raises(TuneError, match=r"^f\(xs=\.\.\.\) item 1 must be a finite number >= 0, got inf$"):
        check_numbers("f(xs=...)", (1, INF), minimum=0)
    with pytest.raises(TuneError, match=r"^f\(xs=\.\.\.\) must be a non-empty list of numbers, got \(\)$"):
        check_numbers("f(xs=...)", ())
    assert check_key("f(metric=...)", None, allow_none=True) is None
    with pytest.raises(TuneError, match=r"^f\(metric=\.\.\.\) must be the name of a result key"):
        check_key("f(metric=...)", 3)
