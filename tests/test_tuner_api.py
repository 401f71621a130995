"""The Ray 2.x API (`Tuner`, `TuneConfig`, `RunConfig`, `ResultGrid`, `tunelab.train`...) over the one engine.

The first tests are Ray's own documentation examples with only the imports changed
(`from ray import tune, train` -> `import tunelab as tune; from tunelab import train`).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import tunelab as tune
from tunelab import train
from tunelab.train import Checkpoint
from tunelab.trial import Resources

HERE = os.path.dirname(os.path.abspath(__file__))


def _quiet(**kwargs):
    return tune.RunConfig(verbose=0, **kwargs)


# -- Ray's getting-started examples (imports changed only) ------------------------------------------
def test_ray_quickstart_returning_a_dict(results_dir):
    def objective(config):  # ①
        score = config["a"] ** 2 + config["b"]
        return {"score": score}

    search_space = {  # ②
        "a": tune.grid_search([0.001, 0.01, 0.1, 1.0]),
        "b": tune.choice([1, 2, 3]),
    }

    tuner = tune.Tuner(objective, param_space=search_space, run_config=_quiet())  # ③

    results = tuner.fit()
    best = results.get_best_result(metric="score", mode="min")
    assert len(results) == 4 and results.num_terminated == 4
    scores = [r.config["a"] ** 2 + r.config["b"] for r in results]
    assert best.metrics["score"] == pytest.approx(min(scores))
    assert best.config["a"] ** 2 + best.config["b"] == pytest.approx(best.metrics["score"])
    assert sorted(r.config["a"] for r in results) == [0.001, 0.01, 0.1, 1.0]
    assert os.path.dirname(results.experiment_path) == results_dir  # default storage: local_dir's default


def test_ray_key_concepts_trainable_with_tune_config():
    def objective(x, a, b):
        return a * (x**0.5) + b

    def trainable(config: dict):
        intermediate_score = 0
        for x in range(20):
            intermediate_score = objective(x, config["a"], config["b"])
            tune.report({"score": intermediate_score})  # This sends the score to Tune.

    search_space = {"a": tune.uniform(0, 1), "b": tune.uniform(0, 1)}
    tuner = tune.Tuner(
        trainable,
        param_space=search_space,
        tune_config=tune.TuneConfig(num_samples=3, metric="score", mode="min"),
        run_config=_quiet(),
    )
    results = tuner.fit()
    best_config = results.get_best_result().config
    last = {r.path: objective(19, r.config["a"], r.config["b"]) for r in results}
    assert len(results) == 3 and results.num_errors == 0
    assert best_config == min(results, key=lambda r: last[r.path]).config
    for result in results:
        assert result.metrics["training_iteration"] == 20
        assert result.metrics["score"] == pytest.approx(last[result.path])
        assert list(result.metrics_dataframe["training_iteration"]) == list(range(1, 21))


# -- Ray's checkpointing example, with a crash recovered by FailureConfig ----------------------------
def train_func(config):
    start = 1
    model = {"weights": 0}  # stands in for MyModel()

    checkpoint = train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as checkpoint_dir:
            with open(os.path.join(checkpoint_dir, "checkpoint.json")) as f:
                checkpoint_dict = json.load(f)
            start = checkpoint_dict["epoch"] + 1
            model = checkpoint_dict["model_state"]

    with open(os.path.join(train.get_context().get_trial_dir(), "starts.txt"), "a") as f:
        f.write(f"{start}\n")
    for epoch in range(start, config["epochs"] + 1):
        if epoch == config["crash_at"] and not os.path.exists(config["marker"]):
            open(config["marker"], "w").close()
            raise RuntimeError("simulated crash")
        model["weights"] += 1  # model training here
        metrics = {"metric": model["weights"]}
        with tempfile.TemporaryDirectory() as tempdir:
            with open(os.path.join(tempdir, "checkpoint.json"), "w") as f:
                json.dump({"epoch": epoch, "model_state": model}, f)
            train.report(metrics=metrics, checkpoint=Checkpoint.from_directory(tempdir))


def test_checkpoint_example_resumes_after_a_crash(tmp_path):
    tuner = tune.Tuner(
        train_func,
        param_space={"epochs": 5, "crash_at": 3, "marker": str(tmp_path / "crashed")},
        run_config=train.RunConfig(
            verbose=0,
            failure_config=train.FailureConfig(max_failures=1),
            checkpoint_config=train.CheckpointConfig(num_to_keep=2),
        ),
    )
    result_grid = tuner.fit()
    assert result_grid.num_errors == 0 and os.path.exists(tmp_path / "crashed")  # it did crash, once
    result = result_grid[0]
    with open(os.path.join(result.path, "starts.txt")) as f:
        assert f.read().split() == ["1", "3"]  # the retry resumed at epoch 3, from the epoch-2 checkpoint
    history = result.metrics_dataframe
    assert list(history["training_iteration"]) == [1, 2, 3, 4, 5]
    assert list(history["metric"]) == [1, 2, 3, 4, 5]  # the model state came back, not restarted
    with result.checkpoint.as_directory() as checkpoint_dir, open(os.path.join(checkpoint_dir, "checkpoint.json")) as f:
        assert json.load(f) == {"epoch": 5, "model_state": {"weights": 5}}
    # num_to_keep=2: only the two newest checkpoints are left on disk
    assert [m["training_iteration"] for _, m in result.best_checkpoints] == [4, 5]
    assert sorted(d for d in os.listdir(result.path) if d.startswith("checkpoint_")) == ["checkpoint_4", "checkpoint_5"]


def test_checkpoint_config_keeps_the_best_by_score_and_the_newest():
    losses = [5.0, 1.0, 4.0, 2.0, 3.0]

    def fn(config):
        for loss in losses:
            tune.report({"loss": loss}, checkpoint=Checkpoint.from_dict({"loss": loss}))

    checkpoint_config = tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="loss",
                                              checkpoint_score_order="min")
    result = tune.Tuner(fn, run_config=_quiet(checkpoint_config=checkpoint_config)).fit()[0]
    kept = {m["training_iteration"]: c.to_dict()["loss"] for c, m in result.best_checkpoints}
    assert kept == {2: 1.0, 4: 2.0, 5: 3.0}  # the two lowest losses, and the newest (kept for resuming)


def pbt_fn(config):
    checkpoint = tune.get_checkpoint()
    state = checkpoint.to_dict() if checkpoint else {"w": 0.0, "owner": None}
    with open(os.path.join(tune.get_context().get_trial_dir(), "starts.jsonl"), "a") as f:
        f.write(json.dumps({"owner": state["owner"]}) + "\n")
    w = state["w"]
    while True:
        time.sleep(0.01)
        w += config["lr"]
        owner = tune.get_context().get_trial_id()
        tune.report({"w": w}, checkpoint=Checkpoint.from_dict({"w": w, "owner": owner}))


def test_reported_checkpoint_comes_back_after_a_pbt_exploit():
    from tunelab.schedulers import PopulationBasedTraining

    # synch: the population is judged together at each interval, so an exploit happens however the two
    # trials are scheduled (even one after the other on a loaded machine)
    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2, quantile_fraction=0.5,
                                  resample_probability=0.0, hyperparam_mutations={"lr": [0.1, 1.0]}, seed=0,
                                  synch=True)
    results = tune.Tuner(
        pbt_fn, param_space={"lr": tune.grid_search([0.1, 1.0])},
        tune_config=tune.TuneConfig(metric="w", mode="max", scheduler=pbt),
        run_config=_quiet(stop={"training_iteration": 8}),
    ).fit()
    assert results.num_terminated == 2 and pbt.exploit_log
    exploited = [r for r in results if any(e["trial_id"] == r.metrics["trial_id"] for e in pbt.exploit_log)]
    assert exploited
    for result in exploited:
        with open(os.path.join(result.path, "starts.jsonl")) as f:
            owners = [json.loads(line)["owner"] for line in f]
        own_id = result.metrics["trial_id"]
        donors = {e["donor_id"] for e in pbt.exploit_log if e["trial_id"] == own_id}
        # every restart got a reported checkpoint back from get_checkpoint(): its own after a pause, the
        # donor's after an exploit
        assert owners[0] is None and None not in owners[1:]
        assert set(owners[1:]) <= donors | {own_id} and donors & set(owners)


# -- Tuner.restore after a killed driver -------------------------------------------------------------
def _result_counts(exp_dir):
    """The number of results in each trial's result.json so far."""
    counts = []
    for root, _, files in os.walk(exp_dir):
        if "result.json" in files:
            with open(os.path.join(root, "result.json")) as f:
                counts.append(sum(1 for _ in f))
    return counts


def test_restore_after_the_driver_was_killed(tmp_path):
    from tuner_kill_driver import counter  # the same trainable the killed driver ran

    iterations = 30
    exp_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "tuner_kill_driver.py"), str(tmp_path),
                             str(iterations)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:  # kill once a trial is under way
        lines = _result_counts(exp_dir)
        if lines and max(lines) >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = _result_counts(exp_dir)
    assert len(done_before) < 3 or min(done_before) < iterations  # the kill left work to resume
    assert tune.Tuner.can_restore(exp_dir)
    assert not tune.Tuner.can_restore(tmp_path)

    results = tune.Tuner.restore(str(exp_dir), trainable=counter).fit()
    assert len(results) == 3 and results.num_terminated == 3
    resumed = 0
    for result in results:
        with open(os.path.join(result.path, "starts.txt")) as f:
            starts = [int(s) for s in f.read().split()]
        resumed += len(starts) > 1 and starts[-1] > 0  # continued from its reported checkpoint
        history = result.metrics_dataframe
        assert list(history["i"]) == list(range(1, iterations + 1))  # gap-free, no repeats
        assert list(history["training_iteration"]) == list(range(1, iterations + 1))
    assert resumed >= 1
    best = results.get_best_result()  # the TuneConfig's metric/mode came back from the saved Tuner
    assert best.config["a"] == 3 and best.metrics["value"] == 3 * iterations


def test_restore_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(tune.TuneError, match="no Tuner experiment"):
        tune.Tuner.restore(str(tmp_path), trainable=train_func)
    with pytest.raises(tune.TuneError, match="resume_unfinished=False"):
        tune.Tuner.restore(str(tmp_path), trainable=train_func, resume_unfinished=False)
    with pytest.raises(tune.TuneError, match="no Tuner experiment at 'memory://nonexistent/exp'"):
        tune.Tuner.restore("memory://nonexistent/exp", trainable=train_func)


# -- ResultGrid ---------------------------------------------------------------------------------------
def scored(config):
    if config["x"] == 2:
        raise ValueError("x=2 is bad")
    for score in config["scores"]:
        tune.report({"score": score})


def test_result_grid_accessors():
    tuner = tune.Tuner(
        scored,
        param_space={"x": tune.grid_search([0, 1, 2]),
                     "scores": tune.sample_from(lambda spec: [1, 9, 2] if spec.config.x == 0 else [3, 4, 5])},
        run_config=_quiet(name="grid"),
    )
    results = tuner.fit()  # a failed trial does not raise: it is in results.errors
    assert len(results) == 3 and [r.config["x"] for r in results] == [0, 1, 2]
    assert results.num_terminated == 2 and results.num_errors == 1
    error = results.errors[0]
    assert isinstance(error, tune.TuneError)
    with open(str(error).rsplit("traceback in ", 1)[1]) as f:
        assert "x=2 is bad" in f.read()
    assert results[2].error is error and results[0].error is None
    with pytest.raises(tune.TuneError, match="No metric is provided"):
        results.get_best_result()
    assert results.get_best_result("score", "max").config["x"] == 1  # last: 5 beats 2
    assert results.get_best_result("score", "max", scope="all").config["x"] == 0  # best ever: 9
    with pytest.raises(tune.TuneError, match="No best trial found"):
        results.get_best_result("nothing", "max")
    frame = results.get_dataframe()
    assert len(frame) == 3 and list(frame["config/x"]) == [0, 1, 2]
    best_rows = results.get_dataframe(filter_metric="score", filter_mode="max")
    assert list(best_rows["score"])[:2] == [9, 5]
    assert results[1].metrics["score"] == 5 and list(results[1].metrics_dataframe["score"]) == [3, 4, 5]
    assert results[1].checkpoint is None and results[1].best_checkpoints == []
    assert os.path.basename(results.experiment_path) == "grid"
    assert all(r.path.startswith(results.experiment_path) for r in results)
    again = tuner.get_results()  # read back from disk
    assert [r.metrics.get("score") for r in again] == [2, 5, None] and again.num_errors == 1
    single = train.Result.from_path(results[1].path)
    assert single.metrics["score"] == 5


# -- get_context and with_resources ------------------------------------------------------------------
def context_fn(config, data=None):
    ctx = tune.get_context()
    info = {"id": ctx.get_trial_id(), "name": ctx.get_trial_name(), "dir": ctx.get_trial_dir(),
            "experiment": ctx.get_experiment_name(), "resources": ctx.get_trial_resources().cpu,
            "data": data, "cwd": os.getcwd()}
    with open(os.path.join(ctx.get_trial_dir(), "context.json"), "w") as f:
        json.dump(info, f)
    tune.report({"done_ok": 1})


def _contexts(results):
    out = []
    for result in results:
        with open(os.path.join(result.path, "context.json")) as f:
            out.append((result, json.load(f)))
    return out


def test_get_context_and_with_resources_dict():
    trainable = tune.with_resources(tune.with_parameters(context_fn, data=[1, 2]), {"cpu": 2})
    results = tune.Tuner(trainable, param_space={"k": tune.grid_search([1, 2])}, run_config=_quiet(name="ctx")).fit()
    assert results.num_terminated == 2
    for result, info in _contexts(results):
        assert info["id"] == result.metrics["trial_id"]
        assert info["dir"] == result.path == info["cwd"]
        assert info["experiment"] == "ctx"
        assert os.path.basename(result.path).startswith(info["name"]) and f"k={result.config['k']}" in info["name"]
        assert info["resources"] == 2
        assert info["data"] == [1, 2]  # with_parameters' objects survive with_resources


def test_with_resources_function_of_config_and_outer_with_parameters():
    trainable = tune.with_parameters(tune.with_resources(context_fn, lambda config: {"CPU": config["cpus"]}),
                                     data="big")
    results = tune.Tuner(trainable, param_space={"cpus": tune.grid_search([1, 2])}, run_config=_quiet()).fit()
    for result, info in _contexts(results):
        assert info["resources"] == result.config["cpus"] and info["data"] == "big"


def test_with_resources_on_a_trainable_class():
    class Steps(tune.Trainable):
        def step(self):
            return {"score": 1, "done": True}

    wrapped = tune.with_resources(Steps, {"cpu": 0.5, "gpu": 0, "my_res": 0})
    assert issubclass(wrapped, Steps)
    assert wrapped.default_resource_request({}) == Resources(cpu=0.5, gpu=0, custom_resources={"my_res": 0})
    assert tune.Tuner(wrapped, run_config=_quiet()).fit().num_terminated == 1


def test_get_context_outside_a_trial_says_so():
    with pytest.raises(tune.TuneError, match="outside a trial"):
        tune.get_context()


# -- options tunelab cannot honour, and bad input --------------------------------------------------
@pytest.mark.parametrize("build, message", [
    (lambda: tune.RunConfig(storage_path=""), "storage_path must be a folder or a URI"),
    (lambda: tune.RunConfig(storage_filesystem=object()), "storage_filesystem=.*not supported.*URI"),
    (lambda: tune.RunConfig(sync_config=object()), "sync_config=.*not supported.*storage_path"),
    (lambda: tune.RunConfig(progress_reporter=object()), "progress_reporter.*not supported"),
    (lambda: tune.RunConfig(log_to_file=True), "log_to_file.*not supported"),
    (lambda: tune.RunConfig(nam="x"), "did you mean 'name'"),
    (lambda: tune.RunConfig(failure_config={"max_failures": 1}), "FailureConfig"),
    (lambda: train.FailureConfig(fail_fast=True), "fail_fast=True is not supported"),
    (lambda: train.FailureConfig(max_failures=-2), "max_failures"),
    (lambda: tune.TuneConfig(reuse_actors=True), "reuse_actors=True is not supported"),
    (lambda: tune.TuneConfig(mode="maximize"), "'min', 'max'"),
    (lambda: tune.TuneConfig(num_samples=0), "num_samples"),
    (lambda: tune.CheckpointConfig(checkpoint_score_order="best"), "'max', 'min'"),
    (lambda: tune.CheckpointConfig(num_to_keep=0), "num_to_keep"),
    (lambda: tune.Tuner(train_func, param_space=[1]), "param_space"),
    (lambda: tune.Tuner(train_func, tune_config={"metric": "x"}), "TuneConfig"),
    (lambda: tune.Tuner(train_func, resources_per_trial={"cpu": 1}), "unknown keyword"),
    (lambda: tune.with_resources(train_func, {"cpu": 1, "memory": 10**9}), "memory"),
    (lambda: tune.with_resources(train_func, {"cpu": 1, "CPU": 2}), "not both"),
    (lambda: tune.with_resources(train_func, 3), "dict"),
    (lambda: tune.report({"x": 1}, checkpoint_dir_name="mine"), "checkpoint_dir_name"),
])
def test_unsupported_options_and_bad_values_are_tune_errors(build, message):
    with pytest.raises(tune.TuneError, match=message):
        build()


def test_function_trainable_with_checkpoint_frequency_is_refused_before_running():
    config = tune.RunConfig(verbose=0, checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=2))
    with pytest.raises(tune.TuneError, match="need a Trainable class"):
        tune.Tuner(train_func, run_config=config).fit()


def test_local_storage_path_is_the_results_folder(tmp_path):
    results = tune.Tuner(scored, param_space={"x": 1, "scores": [1]},
                         run_config=_quiet(storage_path=str(tmp_path / "store"), name="here")).fit()
    assert results.experiment_path == str(tmp_path / "store" / "here")
    assert os.path.exists(os.path.join(results[0].path, "result.json"))
    assert os.path.exists(tmp_path / "store" / "here" / "tuner.pkl")


def test_import_paths_of_todays_ray_names():
    import tunelab.search
    import tunelab.stopper
    from tunelab.schedulers import ASHAScheduler, FIFOScheduler
    from tunelab.search import BasicVariantGenerator, ConcurrencyLimiter, Repeater, Searcher
    from tunelab.search.hyperopt import HyperOptSearch
    from tunelab.search.optuna import OptunaSearch
    from tunelab.suggest import HyperOptSearch as OldHyperOpt
    from tunelab.suggest import OptunaSearch as OldOptuna

    assert train.RunConfig is tune.RunConfig and train.CheckpointConfig is tune.CheckpointConfig
    assert train.FailureConfig is tune.FailureConfig and train.Result is tune.Result
    assert train.Checkpoint is tune.Checkpoint and train.report is tune.report
    assert train.get_checkpoint is tune.get_checkpoint and train.get_context is tune.get_context
    assert OptunaSearch is OldOptuna and HyperOptSearch is OldHyperOpt
    assert all(callable(c) for c in (BasicVariantGenerator, ConcurrencyLimiter, Repeater, Searcher, ASHAScheduler,
                                      FIFOScheduler, tunelab.stopper.Stopper))
    for name in ("Tuner", "TuneConfig", "ResultGrid", "Result", "Checkpoint", "report", "get_checkpoint",
                 "get_context", "with_resources", "with_parameters", "RunConfig", "CheckpointConfig", "FailureConfig"):
        assert getattr(tune, name) is not None, name


def test_import_tunelab_stays_light():
    code = ("import sys, tunelab, tunelab.train, tunelab.search; "
            "print(sorted(m for m in ('numpy', 'pandas', 'optuna', 'hyperopt') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- class trainables, searchers and stoppers under the Tuner ---------------------------------------
class Counter(tune.Trainable):
    def setup(self, config):
        self.count = 0

    def step(self):
        self.count += 1
        return {"count": self.count}

    def save_checkpoint(self, checkpoint_dir):
        return {"count": self.count}

    def load_checkpoint(self, state):
        self.count = state["count"]


def test_checkpoint_frequency_and_at_end_on_a_class_trainable():
    config = tune.CheckpointConfig(checkpoint_frequency=2, checkpoint_at_end=True)
    result = tune.Tuner(Counter, run_config=_quiet(checkpoint_config=config, stop={"training_iteration": 5})).fit()[0]
    assert [m["training_iteration"] for _, m in result.best_checkpoints] == [2, 4, 5]
    assert result.checkpoint.to_dict() == {"count": 5}


def test_searcher_from_todays_path_under_a_concurrency_limiter():
    pytest.importorskip("optuna")
    from tunelab.search import ConcurrencyLimiter
    from tunelab.search.optuna import OptunaSearch

    def quadratic(config):
        tune.report({"loss": (config["x"] - 2) ** 2})

    searcher = ConcurrencyLimiter(OptunaSearch(seed=0), max_concurrent=2)
    results = tune.Tuner(quadratic, param_space={"x": tune.uniform(-5, 5)},
                         tune_config=tune.TuneConfig(metric="loss", mode="min", search_alg=searcher, num_samples=6),
                         run_config=_quiet()).fit()
    assert len(results) == 6 and results.num_terminated == 6
    best = results.get_best_result()
    assert best.metrics["loss"] == min(r.metrics["loss"] for r in results)


def test_plateau_stoppers():
    from tunelab.stopper import ExperimentPlateauStopper, TrialPlateauStopper

    trial = TrialPlateauStopper("loss", std=0.01, num_results=3, grace_period=3)
    decisions = [trial("t", {"loss": v}) for v in (5.0, 3.0, 2.0, 2.0, 2.0)]
    assert decisions == [False, False, False, False, True]  # the last 3 values are flat
    assert trial("other", {"loss": 2.0}) is False  # per trial
    threshold = TrialPlateauStopper("loss", num_results=2, grace_period=1, metric_threshold=1.0, mode="min")
    assert [threshold("t", {"loss": v}) for v in (3.0, 3.0, 0.5, 0.5)] == [False, False, False, True]

    experiment = ExperimentPlateauStopper("loss", std=0.001, top=3, mode="min", patience=2)
    # the top 3 are flat from the 4th result on; patience 2 asks for 2 such results in a row
    assert [experiment(str(i), {"loss": v}) for i, v in enumerate((4.0, 1.0, 1.0, 1.0, 9.0))] == \
        [False, False, False, False, True]
    assert experiment.stop_all()
    with pytest.raises(tune.TuneError, match="mode"):
        TrialPlateauStopper("loss", metric_threshold=1.0)
    with pytest.raises(tune.TuneError, match="top"):
        ExperimentPlateauStopper("loss", top=1)


def test_trial_plateau_stopper_ends_trials_under_the_tuner():
    from tunelab.stopper import TrialPlateauStopper

    def flat(config):
        for step in range(100):
            tune.report({"loss": max(10 - step, 3)})

    results = tune.Tuner(flat, run_config=_quiet(stop=TrialPlateauStopper("loss", num_results=3))).fit()
    assert results[0].metrics["training_iteration"] == 10  # losses 10..3, then 3, 3: flat over the last 3


def test_settings_that_cannot_be_pickled_only_cost_the_restore():
    import threading

    class LockedCallback(tune.Callback):
        def __init__(self):
            self.lock = threading.Lock()  # cannot be pickled
            self.results = 0

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.results += 1

    callback = LockedCallback()
    with pytest.warns(UserWarning, match="callbacks cannot be pickled"):
        results = tune.Tuner(scored, param_space={"x": 1, "scores": [1, 2]},
                             run_config=_quiet(name="cb", callbacks=[callback])).fit()
    assert callback.results == 2 and tune.Tuner.can_restore(results.experiment_path)

    from tunelab.schedulers import FIFOScheduler

    class LockedScheduler(FIFOScheduler):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    with pytest.warns(UserWarning, match="Tuner.restore will not find"):
        results = tune.Tuner(scored, param_space={"x": 1, "scores": [1]},
                             tune_config=tune.TuneConfig(scheduler=LockedScheduler()),
                             run_config=_quiet(name="nopickle")).fit()
    assert results.num_terminated == 1 and not tune.Tuner.can_restore(results.experiment_path)
