"""The seed-era behaviours (semantics reference, section 2), run through the public API only."""
import functools
import os
import time

import pytest

import tunelab as tune
from tunelab import Experiment, Trainable, TuneError, register_trainable, run_experiments
from tunelab.error import RecursiveDependencyError
from tunelab.trial import Resources, Trial


def _single(spec, **kwargs):
    return run_experiments({"foo": spec}, verbose=0, **kwargs)


def test_success_reports_every_result():
    def train(config, reporter):
        for i in range(100):
            reporter(timesteps_total=i)

    [trial] = _single({"run": train})
    assert trial.status == Trial.TERMINATED
    assert trial.last_result["timesteps_total"] == 99
    assert trial.last_result["training_iteration"] == 100
    assert trial.last_result["done"] is True


def test_done_true_ends_trial_without_waiting_for_function():
    def train(config, reporter):
        reporter(timesteps_total=100, done=True)
        time.sleep(99999)

    start = time.time()
    [trial] = _single({"run": train})
    assert time.time() - start < 20
    assert trial.status == Trial.TERMINATED
    assert trial.last_result["timesteps_total"] == 100


def test_abrupt_return_keeps_last_result():
    def train(config, reporter):
        reporter(timesteps_total=100)

    [trial] = _single({"run": train})
    assert trial.status == Trial.TERMINATED
    assert trial.last_result["timesteps_total"] == 100
    assert trial.last_result["done"] is True


def test_error_raises_and_writes_traceback():
    def train(config, reporter):
        raise ValueError("boom in trainable")

    with pytest.raises(TuneError, match="did not complete"):
        _single({"run": train, "max_failures": 0})
    [trial] = _single({"run": train, "max_failures": 0}, raise_on_failed_trial=False)
    assert trial.status == Trial.ERROR
    text = open(trial.error_file).read()
    assert "ValueError: boom in trainable" in text and "Traceback" in text
    assert os.path.basename(trial.error_file) == "error.txt"


def test_stop_key_never_reported_is_an_error():
    def train(config, reporter):
        for _ in range(5):
            reporter(mean_accuracy=1)

    with pytest.raises(TuneError, match="time_total_s_typo"):
        _single({"run": train, "stop": {"time_total_s_typo": 1}})


@pytest.mark.parametrize("spec, match", [
    ({}, "no trainable"),
    ({"run": "f", "bah": "this param is not allowed"}, "bah"),
    ({"run": tune.grid_search(["invalid grid search"])}, "run"),
    ({"run": "asdf"}, "asdf"),
    ({"run": "f", "resources_per_trial": {"asdf": 1}}, "asdf"),
    ({"run": "f", "trial_resources": {"cpu": -1}}, "-1"),
])
def test_bad_specs_raise_tune_error(spec, match):
    register_trainable("f", lambda config, reporter: reporter(a=1))
    with pytest.raises(TuneError, match=match):
        _single(spec)


def test_config_purity():
    def train(config, reporter):
        assert config == {"a": "b"}, config
        reporter(timesteps_total=1)

    [trial] = _single({"run": train, "config": {"a": "b"}})
    assert trial.status == Trial.TERMINATED


def test_logdir_is_cwd_and_tilde_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))

    def train(config, reporter):
        assert os.getcwd().startswith(os.path.join(str(tmp_path), "my_results", "foo")), os.getcwd()
        reporter(timesteps_total=1)

    [trial] = _single({"run": train, "local_dir": "~/my_results"})
    assert trial.status == Trial.TERMINATED
    assert trial.logdir.startswith(str(tmp_path))


def test_long_names_are_truncated():
    def train(config, reporter):
        reporter(timesteps_total=1)

    config = {"a" * 50: tune.sample_from(lambda spec: 5.0 / 7), "b" * 50: tune.sample_from(lambda spec: "long" * 40)}
    [trial] = _single({"run": train, "config": config})
    assert len(trial.logdir) <= 200
    assert os.path.isdir(trial.logdir)


def test_env_moves_into_config():
    def train(config, reporter):
        reporter(timesteps_total=1)

    register_trainable("PPO", train)
    [trial] = _single({"run": "PPO", "env": "CartPole-v0"})
    assert trial.config["env"] == "CartPole-v0"
    assert str(trial) == "PPO_CartPole-v0_0"


def test_register_trainable_kinds_and_overwrite():
    def train(config, reporter, extra):
        reporter(timesteps_total=extra)

    register_trainable("p", functools.partial(train, extra=100))
    register_trainable("p", functools.partial(train, extra=200))
    [trial] = _single({"run": "p"})
    assert trial.last_result["timesteps_total"] == 200

    class A:
        pass

    with pytest.raises(TypeError):
        register_trainable("bad", A)
    with pytest.raises(TypeError):
        register_trainable("bad", 2)


class _Counter(Trainable):
    def _setup(self, config):
        self.state = {"count": config.get("start", 0)}

    def _train(self):
        self.state["count"] += 1
        return {"timesteps_this_iter": 3, "episodes_this_iter": self.state["count"] - 1, "mean_loss": 1.0}

    def _save(self, checkpoint_dir):
        return dict(self.state)

    def _restore(self, state):
        self.state = dict(state)


def test_autoregister_and_input_forms():
    exp1 = Experiment("a", run=_Counter, stop={"training_iteration": 2})
    exp2 = Experiment("b", run=_Counter, stop={"training_iteration": 3})
    trials = run_experiments([exp1, exp2], verbose=0)
    assert [t.last_result["training_iteration"] for t in trials] == [2, 3]
    [trial] = run_experiments(exp1, verbose=0)
    assert trial.trainable_name == "_Counter"
    search = tune.suggest.BasicVariantGenerator()
    search.add_configurations({"c": {"run": _Counter, "stop": {"training_iteration": 1}}})
    [trial] = run_experiments(search_alg=search, verbose=0)
    assert trial.status == Trial.TERMINATED


def test_class_auto_filled_totals():
    [trial] = _single({"run": _Counter, "stop": {"training_iteration": 10}})
    result = trial.last_result
    assert result["timesteps_total"] == 30
    assert result["episodes_total"] == 45
    assert result["neg_mean_loss"] == -1.0
    for key in ("time_this_iter_s", "time_total_s", "trial_id", "experiment_id", "date", "timestamp", "pid",
                "hostname", "node_ip", "config", "time_since_restore", "iterations_since_restore",
                "timesteps_since_restore"):
        assert key in result, key


def test_num_samples_tags_and_names():
    register_trainable("PPO", lambda config, reporter: reporter(timesteps_total=1))
    trials = _single({"run": "PPO", "env": "Pong-v0", "num_samples": 2, "max_failures": 5})
    assert [str(t) for t in trials] == ["PPO_Pong-v0_0", "PPO_Pong-v0_1"]
    assert [t.experiment_tag for t in trials] == ["0", "1"]
    assert trials[0].max_failures == 5


def test_repeat_alias_warns_not_raises():
    register_trainable("f1", lambda config, reporter: reporter(timesteps_total=1))
    with pytest.warns(DeprecationWarning):
        trials = _single({"run": "f1", "repeat": 2})
    assert len(trials) == 2


def test_eval_and_grid_order_and_tags():
    register_trainable("f2", lambda config, reporter: reporter(timesteps_total=1))
    [trial] = _single({"run": "f2", "config": {"foo": {"eval": "2 + 2"}}})
    assert trial.config == {"foo": 4} and trial.experiment_tag == "0_foo=4"
    trials = _single({"run": "f2", "config": {"bar": tune.grid_search([True, False]), "foo": tune.grid_search([1, 2, 3])}})
    assert [(t.config["bar"], t.config["foo"]) for t in trials] == [
        (True, 1), (False, 1), (True, 2), (False, 2), (True, 3), (False, 3)]
    assert trials[0].experiment_tag == "0_bar=True,foo=1"
    assert trials[1].experiment_tag == "1_bar=False,foo=1"
    trials = _single({"run": "f2", "config": {"bar": tune.grid_search([True, False]), "foo": tune.grid_search([1, 2, 3]),
                                              "qux": lambda spec: 2 + 2}})
    assert trials[0].experiment_tag == "0_bar=True,foo=1,qux=4"


def test_dependent_lambdas_and_recursion():
    register_trainable("f3", lambda config, reporter: reporter(timesteps_total=1))
    [trial] = _single({"run": "f3", "config": {"x": 1, "y": lambda spec: spec.config.x + 1,
                                               "z": lambda spec: spec.config.y + 1}})
    assert (trial.config["y"], trial.config["z"]) == (2, 3)
    trials = _single({"run": "f3", "config": {"x": tune.grid_search([1, 2]), "y": lambda spec: spec.config.x * 100}})
    assert [t.config["y"] for t in trials] == [100, 200]
    trials = _single({"run": "f3", "config": {"x": tune.grid_search([lambda spec: 1, lambda spec: 2])}})
    assert [t.config["x"] for t in trials] == [1, 2]
    with pytest.raises(RecursiveDependencyError, match="`foo` recursively depends on"):
        _single({"run": "f3", "config": {"foo": lambda spec: spec.config.foo}})


def test_result_done_flag():
    [trial] = _single({"run": _Counter, "stop": {"training_iteration": 3}})
    lines = open(os.path.join(trial.logdir, "result.json")).read().splitlines()
    import json

    dones = [json.loads(line)["done"] for line in lines]
    assert dones == [False, False, True]


def test_trial_failing_in_setup_errors_and_next_runs():
    class Broken(Trainable):
        def setup(self, config):
            if config["x"] == 0:
                raise RuntimeError("bad setup")

        def step(self):
            return {"ok": 1}

    trials = _single({"run": Broken, "config": {"x": tune.grid_search([0, 1])}, "stop": {"training_iteration": 1},
                      "max_failures": 0}, raise_on_failed_trial=False)
    assert [t.status for t in trials] == [Trial.ERROR, Trial.TERMINATED]
    assert "bad setup" in open(trials[0].error_file).read()


def test_function_and_class_log_same_fields():
    def fn(config, reporter):
        for i in range(3):
            reporter(timesteps_this_iter=3, episodes_this_iter=i, mean_loss=1.0)

    [f_trial] = _single({"run": fn})
    [c_trial] = _single({"run": _Counter, "stop": {"training_iteration": 3}})
    skip = {"time_this_iter_s", "time_total_s", "time_since_restore", "timestamp", "date", "pid", "trial_id",
            "experiment_id", "config"}
    assert set(f_trial.last_result) - skip == set(c_trial.last_result) - skip
    assert f_trial.last_result["timesteps_total"] == c_trial.last_result["timesteps_total"] == 9


def test_report_infinity_and_none_timesteps():
    def train(config, reporter):
        reporter(mean_accuracy=float("inf"))

    [trial] = _single({"run": train})
    assert trial.last_result["mean_accuracy"] == float("inf")
    assert trial.last_result["timesteps_total"] is None
    import json

    line = open(os.path.join(trial.logdir, "result.json")).read().splitlines()[-1]
    assert json.loads(line)["mean_accuracy"] == float("inf")


def test_default_resource_request_and_gpu_never_fits(fresh_executor):
    tune.init(num_cpus=2, num_gpus=0)

    class NeedsGPU(_Counter):
        @classmethod
        def default_resource_request(cls, config):
            return Resources(cpu=1, gpu=1)

    with pytest.raises(TuneError, match="GPU"):
        _single({"run": NeedsGPU, "stop": {"training_iteration": 1}})
    [trial] = _single({"run": NeedsGPU, "stop": {"training_iteration": 1}}, raise_on_failed_trial=False)
    assert trial.resources == Resources(cpu=1, gpu=1)
    assert "tunelab.init" in open(trial.error_file).read()
    with pytest.raises(TuneError, match="CPU"):
        _single({"run": _Counter, "stop": {"training_iteration": 1}, "resources_per_trial": {"cpu": 5}})
