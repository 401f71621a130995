"""Bad numeric options (NaN, inf, negatives, wrong types) are a TuneError naming the option, the value and
what is allowed, raised before anything starts; unpicklable config values name their key path; and a
failed call leaves nothing broken for the next tune.run in the same process."""
import math
import threading

import pytest

import tunelab as tune
from tunelab.trial import Trial
from tunelab.validation import check_number


def _train(config):
    for i in range(2):
        tune.report(score=config.get("x", 1) * i)


def _good_run():
    analysis = tune.run(_train, config={"x": tune.grid_search([1, 2])}, verbose=0)
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 2
    assert analysis.get_best_config(metric="score", mode="max") == {"x": 2}


BAD_RUN_OPTIONS = [
    ("time_budget_s", math.nan), ("time_budget_s", math.inf), ("time_budget_s", -1), ("time_budget_s", "10"),
    ("num_samples", math.inf), ("num_samples", 0), ("num_samples", 2.5), ("num_samples", True),
    ("checkpoint_freq", -1), ("checkpoint_freq", math.nan), ("max_failures", math.inf), ("max_failures", -2),
    ("keep_checkpoints_num", 0), ("keep_checkpoints_num", math.nan), ("keep_checkpoints_num", True),
    ("max_concurrent_trials", 0), ("max_concurrent_trials", math.inf), ("max_concurrent_trials", True),
    ("server_port", 70000), ("server_port", -1), ("server_port", math.nan), ("verbose", "loud"), ("verbose", -1),
    ("resources_per_trial", {"cpu": math.nan}), ("resources_per_trial", {"cpu": math.inf}),
    ("resources_per_trial", {"gpu": -1}), ("resources_per_trial", {"custom_resources": {"tpu": math.nan}}),
    ("stop", {"training_iteration": math.nan}), ("stop", {"training_iteration": "5"}),
    ("stop", {"training_iteration": None}),
]


@pytest.mark.parametrize("option,value", BAD_RUN_OPTIONS, ids=lambda v: repr(v)[:30])
def test_bad_run_option_is_a_tune_error_and_the_next_run_works(option, value):
    with pytest.raises(tune.TuneError) as info:
        tune.run(_train, **{option: value, **({} if option == "verbose" else {"verbose": 0})})
    message = str(info.value)
    shown = repr(next(iter(value.values())) if isinstance(value, dict) else value)
    if isinstance(value, dict) and isinstance(next(iter(value.values())), dict):
        shown = repr(next(iter(next(iter(value.values())).values())))
    assert shown in message, message
    named = next(iter(value)) if isinstance(value, dict) else option
    assert named in message, message
    assert "must be" in message
    _good_run()


@pytest.mark.parametrize("spec_key,value", [("num_samples", math.nan), ("checkpoint_freq", math.inf),
                                            ("resources_per_trial", {"extra_cpu": math.nan})])
def test_run_experiments_spec_numbers(spec_key, value):
    with pytest.raises(tune.TuneError, match="must be"):
        tune.run_experiments({"bad": {"run": _train, spec_key: value}}, verbose=0)
    with pytest.raises(tune.TuneError, match="server_port"):
        tune.run_experiments({"bad": {"run": _train}}, server_port=math.inf, verbose=0)
    trials = tune.run_experiments({"good": {"run": _train, "stop": {"training_iteration": 1}}}, verbose=False)
    assert [t.status for t in trials] == [Trial.TERMINATED]


@pytest.mark.parametrize("kwargs,named", [
    ({"num_cpus": math.nan}, "num_cpus"), ({"num_cpus": math.inf}, "num_cpus"), ({"num_cpus": -1}, "num_cpus"),
    ({"num_gpus": math.inf}, "num_gpus"), ({"num_gpus": 1.5}, "num_gpus"), ({"num_gpus": "1"}, "num_gpus"),
    ({"resources": {"license": math.nan}}, "license"), ({"resources": {"license": -1}}, "license"),
])
def test_bad_init_is_rejected_and_keeps_the_previous_setup(kwargs, named, fresh_executor):
    tune.init(num_cpus=2)
    with pytest.raises(tune.TuneError, match=named) as info:
        tune.init(**kwargs)
    assert "must be" in str(info.value)
    _good_run()  # the executor sized by the last good init() still works


def test_check_number_messages():
    with pytest.raises(tune.TuneError, match=r"^opt must be None or an integer in 1\.\.5, got nan$"):
        check_number("opt", math.nan, minimum=1, maximum=5, integer=True, allow_none=True)
    with pytest.raises(tune.TuneError, match=r"^opt must be a finite number > 0, got inf$"):
        check_number("opt", math.inf, above=0)
    assert check_number("opt", math.inf, above=0, allow_inf=True) == math.inf
    assert check_number("opt", None, allow_none=True) is None
    assert check_number("opt", 3, minimum=0, integer=True) == 3


def test_stop_criterion_infinity_means_never():
    analysis = tune.run(_train, stop={"score": math.inf}, verbose=0)
    assert analysis.trials[0].last_result["training_iteration"] == 2


# -- unpicklable config values -------------------------------------------------------------------------
def test_unpicklable_config_value_names_its_key_path():
    with pytest.raises(tune.TuneError) as info:
        tune.run(_train, config={"model": {"layers": [1, threading.Lock()]}}, verbose=0)
    message = str(info.value)
    assert "config['model']['layers'][1]" in message and "lock" in message
    assert "tune.with_parameters" in message
    _good_run()


def test_unpicklable_value_from_sample_from_names_its_key():
    with pytest.raises(tune.TuneError) as info:
        tune.run(_train, config={"x": 1, "lock": tune.sample_from(lambda spec: threading.Lock())}, verbose=0)
    assert "config['lock']" in str(info.value) and "tune.with_parameters" in str(info.value)
    _good_run()


# -- a failing run leaves the process usable ----------------------------------------------------------------
def _never_reports_the_stop_key(config):
    for i in range(3):
        tune.report(other=i)


def _crashes(config):
    tune.report(score=1)
    raise RuntimeError("boom")


def test_failed_runs_leave_the_process_usable():
    with pytest.raises(tune.TuneError, match="missing_key"):
        tune.run(_never_reports_the_stop_key, stop={"missing_key": 1}, verbose=0)
    with pytest.raises(tune.TuneError, match="did not complete"):
        tune.run(_crashes, verbose=0)
    with pytest.raises(tune.TuneError):
        tune.run(_train, scheduler=tune.schedulers.ASHAScheduler(metric="nope", mode="max"), verbose=0)
    _good_run()
