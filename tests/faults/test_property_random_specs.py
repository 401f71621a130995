"""Property: whatever the spec, options and result stream, tune.run either finishes (every trial
TERMINATED or ERROR) or raises a TuneError. Never a hang, never a raw exception.

Hypothesis draws config spaces (constants, grid_search, choice, uniform, sample_from lambdas, some of them
broken), stop criteria, num_samples, a scheduler (FIFO/ASHA/median/HyperBand/PBT), option values including
bad ones (NaN, negatives, strings), and for each trial a plan of what to report: numbers, NaN, inf,
strings, None, a raise or an early return. Each run is under a SIGALRM deadline. The profile is
derandomized with a bounded number of examples so CI runs the same cases every time, in a few seconds.
"""
import contextlib
import math
import signal
import time

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunelab as tune
from tunelab.schedulers import (
    ASHAScheduler,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
)
from tunelab.trial import Trial

RUN_DEADLINE_S = 30

settings.register_profile("tunelab-faults", max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class Hang(Exception):
    """tune.run outlived its deadline."""


def _planned_trainable(config):
    """Report `config["plan"]` step by step: a value is reported as `m`; "raise" raises, "return" ends the
    trial early. Resumes from its checkpoint when it has one (so PAUSE/PBT keep their place)."""
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        start = checkpoint.to_dict()["step"]
    for step, action in enumerate(config["plan"][start:], start=start + 1):
        if action == "raise":
            raise RuntimeError(f"planned failure at step {step}")
        if action == "return":
            return
        tune.report(m=action, lr=config.get("lr", 0.1),
                    checkpoint=tune.Checkpoint.from_dict({"step": step}) if config.get("ckpt") else None)


# -- strategies -------------------------------------------------------------------------------------------
WEIRD_NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, -1, 0, 1e308])
NUMBERS = st.one_of(st.floats(-10, 10, allow_nan=False), st.integers(-5, 5))
REPORTED = st.one_of(NUMBERS, WEIRD_NUMBERS, st.sampled_from(["high", None, "raise", "return", True]))
PLAN = st.lists(REPORTED, min_size=0, max_size=6)

BAD_OPTIONS = [
    ("num_samples", 0), ("num_samples", -1), ("num_samples", math.nan), ("num_samples", "2"),
    ("max_failures", -1), ("max_failures", math.inf), ("max_concurrent_trials", 0),
    ("max_concurrent_trials", math.nan), ("time_budget_s", math.nan), ("time_budget_s", -5),
    ("time_budget_s", "1"), ("resources_per_trial", {"cpu": math.nan}), ("resources_per_trial", {"cpu": -1}),
    ("resources_per_trial", {"cpu": "1"}), ("checkpoint_freq", math.inf), ("checkpoint_freq", -1),
    ("keep_checkpoints_num", math.nan), ("server_port", math.inf), ("verbose", "x"),
]

LAMBDAS = [
    lambda spec: 3,
    lambda spec: spec.config.lr * 2,  # depends on another key (missing when lr is not in the space)
    lambda spec: float("nan"),
    lambda spec: 1 / 0,  # raises while the variant is resolved
]


def config_value():
    """A recipe `(builder, args)`: built inside the test, where a TuneError (e.g. uniform(2, 1)) counts."""
    return st.one_of(
        st.tuples(st.just(None), st.one_of(NUMBERS, st.text(max_size=3))),
        st.tuples(st.just(tune.grid_search), st.lists(NUMBERS, min_size=1, max_size=3)),
        st.tuples(st.just(tune.choice), st.lists(st.integers(0, 3), min_size=1, max_size=3)),
        st.tuples(st.just("uniform"), st.tuples(NUMBERS, NUMBERS)),
        st.tuples(st.just(tune.sample_from), st.sampled_from(LAMBDAS)),
    )


def _build(recipe):
    builder, arg = recipe
    if builder is None:
        return arg
    if builder == "uniform":
        return tune.uniform(*arg)
    return builder(arg)


@st.composite
def specs(draw):
    plans = draw(st.lists(PLAN, min_size=1, max_size=3))
    config = {"plan": tune.grid_search(plans) if len(plans) > 1 else plans[0],
              "ckpt": draw(st.booleans())}
    for key in draw(st.lists(st.sampled_from(["lr", "a", "b"]), max_size=3, unique=True)):
        config[key] = draw(config_value())
    stop = draw(st.one_of(
        st.none(), st.builds(lambda n: {"training_iteration": n}, st.integers(1, 5)),
        st.builds(lambda v: {"m": v}, st.one_of(NUMBERS, WEIRD_NUMBERS, st.just("5"))),
        st.just({"missing": 1}), st.just(lambda trial_id, result: result.get("training_iteration", 0) >= 3),
    ))
    mode = draw(st.sampled_from(["min", "max"]))
    options = {
        "num_samples": draw(st.integers(1, 2)),
        "max_failures": draw(st.integers(0, 1)),
        "max_concurrent_trials": draw(st.one_of(st.none(), st.integers(1, 2))),
        "time_budget_s": draw(st.one_of(st.none(), st.just(20))),
        "resources_per_trial": draw(st.one_of(st.none(), st.just({"cpu": 1}))),
        "checkpoint_freq": draw(st.sampled_from([0, 2])),
        "raise_on_failed_trial": draw(st.booleans()),
    }
    bad = draw(st.sampled_from([None] * len(BAD_OPTIONS) + BAD_OPTIONS))  # one bad option in half the runs
    if bad is not None:
        options[bad[0]] = bad[1]
    if draw(st.booleans()):
        options.update(metric="m", mode=mode)
    return config, stop, mode, options


def _scheduler(kind, mode):
    common = {"metric": "m", "mode": mode}
    return {
        "fifo": lambda: FIFOScheduler(),
        "asha": lambda: ASHAScheduler(max_t=4, grace_period=1, reduction_factor=2, **common),
        "median": lambda: MedianStoppingRule(time_attr="training_iteration", grace_period=1,
                                             min_samples_required=1, **common),
        "hyperband": lambda: HyperBandScheduler(max_t=4, reduction_factor=2, **common),
        "pbt": lambda: PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=1,
                                               hyperparam_mutations={"lr": [0.1, 0.2]}, seed=0, **common),
        "none": lambda: None,
    }[kind]()


@contextlib.contextmanager
def deadline(seconds):
    """Raise Hang in the main thread after `seconds`; give back any outer timer (pytest-timeout's) after."""
    def on_alarm(signum, frame):
        raise Hang(f"tune.run did not finish within {seconds} s")

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    outer_remaining, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_remaining:
            signal.setitimer(signal.ITIMER_REAL, max(outer_remaining - (time.monotonic() - started), 0.001))


@pytest.mark.parametrize("kind", ["fifo", "asha", "median", "hyperband", "pbt", "none"])
@settings(settings.get_profile("tunelab-faults"))
@given(spec=specs())
def test_random_specs_finish_or_raise_tune_error(kind, spec):
    config, stop, mode, options = spec
    try:
        with deadline(RUN_DEADLINE_S):
            config = {key: _build(value) if key not in ("plan", "ckpt") else value for key, value in config.items()}
            scheduler = _scheduler(kind, mode)
            analysis = tune.run(_planned_trainable, config=config, stop=stop, scheduler=scheduler, verbose=0,
                                **options)
    except tune.TuneError as exc:
        hypothesis.event(f"TuneError: {str(exc)[:60]}")
        return
    statuses = {t.status for t in analysis.trials}
    hypothesis.event(f"finished: {sorted(statuses)}, scheduler {kind}")
    assert statuses <= {Trial.TERMINATED, Trial.ERROR}, statuses
    for trial in analysis.trials:
        if trial.status == Trial.ERROR:
            assert trial.error_file and trial.error_msg
    best = analysis.get_best_trial(metric="m", mode=mode)
    assert best is None or math.isfinite(best.last_result["m"])
