"""Large objects reach trials without a copy: pinned once into shared memory, memory-mapped by workers."""
import numpy as np
import pytest

import tunelab as tune
from tunelab.util import get_pinned_object, pin_in_object_store


def _anon_kb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def test_pin_roundtrip_in_driver():
    handle = pin_in_object_store("hello")
    assert isinstance(handle, str)
    assert get_pinned_object(handle) == "hello"
    with pytest.raises(tune.TuneError, match="handle"):
        get_pinned_object("not-a-handle")


def test_pinned_array_is_memory_mapped_in_trials():
    array = np.arange(8_000_000, dtype=np.float64)  # 64 MB
    handle = pin_in_object_store(array)

    def train(config, reporter):
        before = _anon_kb()
        x = get_pinned_object(handle)
        total = float(x.sum())
        reporter(total=total, writeable=bool(x.flags.writeable), anon_growth_kb=_anon_kb() - before,
                 text=get_pinned_object(config["h"]))

    trials = tune.run_experiments({"pin": {"run": train, "num_samples": 2, "config": {"h": pin_in_object_store("hi")}}},
                                  verbose=0)
    for trial in trials:
        assert trial.last_result["total"] == float(array.sum())
        assert trial.last_result["writeable"] is False
        assert trial.last_result["anon_growth_kb"] < 16 * 1024  # far below the 64 MB array: no copy
        assert trial.last_result["text"] == "hi"


def test_with_parameters_function_and_class():
    data = np.ones(1000)

    def train(config, data):
        tune.report(total=float(data.sum()) * config["k"])

    analysis = tune.run(tune.with_parameters(train, data=data), config={"k": tune.grid_search([1, 2])}, verbose=0)
    assert [t.last_result["total"] for t in analysis.trials] == [1000.0, 2000.0]

    def seed_style(config, reporter, data):
        reporter(total=float(data.sum()))

    analysis = tune.run(tune.with_parameters(seed_style, data=data), verbose=0)
    assert analysis.trials[0].last_result["total"] == 1000.0

    class Model(tune.Trainable):
        def setup(self, config, data=None):
            self.data = data

        def step(self):
            return {"total": float(self.data.sum()), "done": True}

    analysis = tune.run(tune.with_parameters(Model, data=data), verbose=0)
    assert analysis.trials[0].last_result["total"] == 1000.0
    assert analysis.trials[0].trainable_name == "Model"
