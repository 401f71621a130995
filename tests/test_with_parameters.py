"""`with_parameters` works with every trainable signature, end to end in real worker processes."""
import numpy as np
import pytest

import tunelab as tune

DATA = np.arange(10.0)  # sum 45


def modern_default(config, data=None):
    tune.report(total=float(data.sum()) * config["k"])


def modern_required(config, data):
    tune.report(total=float(data.sum()) * config["k"])


def seed_required(config, reporter, data):
    reporter(total=float(data.sum()) * config["k"])


def seed_default(config, reporter, data=None):
    reporter(total=float(data.sum()) * config["k"])


def modern_returns(config, data=None, scale=1):
    return {"total": float(data.sum()) * config["k"] * scale}


@pytest.mark.parametrize("train", [modern_default, modern_required, seed_required, seed_default, modern_returns])
def test_function_signatures(train, tmp_path):
    analysis = tune.run(tune.with_parameters(train, data=DATA), config={"k": tune.grid_search([1, 2])},
                        local_dir=str(tmp_path), verbose=0)
    assert [t.status for t in analysis.trials] == ["TERMINATED", "TERMINATED"]
    assert sorted(t.last_result["total"] for t in analysis.trials) == [45.0, 90.0]
    assert analysis.trials[0].trainable_name == train.__name__


def test_several_objects_and_seed_run_experiments(tmp_path):
    def train(config, reporter, data=None, offset=0):
        reporter(total=float(data.sum()) + offset)

    trials = tune.run_experiments(
        {"wp": {"run": tune.with_parameters(train, data=DATA, offset=5), "local_dir": str(tmp_path)}}, verbose=0)
    assert trials[0].last_result["total"] == 50.0


def test_wrapper_called_directly_dispatches_the_same_way():
    wrapped = tune.with_parameters(modern_returns, data=DATA)
    assert wrapped({"k": 3}) == {"total": 135.0}
    seen = []
    tune.with_parameters(seed_default, data=DATA)({"k": 1}, lambda **m: seen.append(m))
    assert seen == [{"total": 45.0}]


class ModernModel(tune.Trainable):
    def setup(self, config, data=None):
        self.total = float(data.sum()) * config["k"]

    def step(self):
        return {"total": self.total, "done": True}


class SeedModel(tune.Trainable):
    def _setup(self, config, data=None):
        self.total = float(data.sum()) * config["k"]

    def _train(self):
        return {"total": self.total, "done": True}


@pytest.mark.parametrize("cls", [ModernModel, SeedModel])
def test_trainable_classes_get_objects_in_setup(cls, tmp_path):
    analysis = tune.run(tune.with_parameters(cls, data=DATA), config={"k": 2}, local_dir=str(tmp_path), verbose=0)
    assert analysis.trials[0].status == "TERMINATED"
    assert analysis.trials[0].last_result["total"] == 90.0
    assert analysis.trials[0].trainable_name == cls.__name__


def test_class_without_setup_is_a_clear_error(tmp_path):
    class NoSetup(tune.Trainable):
        def step(self):
            return {"done": True}

    analysis = tune.run(tune.with_parameters(NoSetup, data=DATA), local_dir=str(tmp_path), verbose=0,
                        raise_on_failed_trial=False)
    trial = analysis.trials[0]
    assert trial.status == "ERROR"
    assert "defines no setup" in open(trial.error_file).read()


def test_not_a_trainable_is_a_tune_error():
    with pytest.raises(tune.TuneError, match="function or a Trainable subclass"):
        tune.with_parameters(42, data=DATA)
