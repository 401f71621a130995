"""Every name that API.md promises is importable from the path it names, and behaves as a public name."""
import importlib
import os
import threading

import pytest

import tunelab as tune

TOP_LEVEL = [
    "init", "register_trainable", "run_experiments", "run", "Experiment", "grid_search", "sample_from", "function",
    "uniform", "quniform", "loguniform", "qloguniform", "randn", "qrandn", "randint", "qrandint", "lograndint",
    "choice", "report", "get_checkpoint", "Checkpoint", "Trainable", "with_parameters", "TuneError",
    "ExperimentAnalysis", "Stopper", "Callback", "TuneClient",
]
PATHS = {
    "tunelab.trial": ["Trial", "Resources"],
    "tunelab.schedulers": ["TrialScheduler", "FIFOScheduler", "MedianStoppingRule", "HyperBandScheduler",
                           "AsyncHyperBandScheduler", "ASHAScheduler", "PopulationBasedTraining"],
    "tunelab.suggest": ["SearchAlgorithm", "BasicVariantGenerator", "Searcher", "SuggestionAlgorithm",
                        "HyperOptSearch", "OptunaSearch", "ConcurrencyLimiter", "Repeater"],
    "tunelab.util": ["pin_in_object_store", "get_pinned_object"],
    "tunelab.web_server": ["TuneClient"],
}


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_names(name):
    assert getattr(tune, name) is not None


@pytest.mark.parametrize("module, names", PATHS.items())
def test_module_paths(module, names):
    mod = importlib.import_module(module)
    for name in names:
        assert getattr(mod, name) is not None, f"{module}.{name}"


def test_trial_states_and_runner_surface():
    from tunelab.trial import Resources, Trial

    assert (Trial.PENDING, Trial.RUNNING, Trial.PAUSED, Trial.TERMINATED, Trial.ERROR) == (
        "PENDING", "RUNNING", "PAUSED", "TERMINATED", "ERROR")
    trial = Trial("train_func", config={"lr": 0.2, "momentum": 0.1}, experiment_tag="0_lr=0.2,momentum=0.1")
    assert str(trial) == "train_func_0_lr=0.2,momentum=0.1"
    for attr in ("trial_id", "trainable_name", "config", "status", "last_result", "logdir", "experiment_tag",
                 "resources", "num_failures", "error_file", "checkpoint"):
        assert hasattr(trial, attr)
    assert Resources(1, 0.5, extra_cpu=2).cpu_total() == 3


def test_unpicklable_trainable_is_a_clear_error():
    lock = threading.Lock()

    def train(config, reporter):
        with lock:
            reporter(x=1)

    with pytest.raises(tune.TuneError, match="cannot be sent to a worker"):
        tune.run(train, verbose=0)


def test_from_json_and_bad_values():
    exp = tune.Experiment.from_json("e", {"run": "PPO" if False else (lambda config, reporter: None),
                                          "trial_resources": {"cpu": 2}, "repeat": 1})
    assert exp.resources.cpu == 2
    with pytest.raises(tune.TuneError, match="Improper argument"):
        tune.Experiment.from_json("e", {"run": lambda c, r: None, "stopp": {}})
    with pytest.raises(tune.TuneError, match="num_samples"):
        tune.Experiment("e", run=lambda c, r: None, num_samples=0)
    with pytest.raises(tune.TuneError, match="mode"):
        tune.run(lambda c: None, mode="maximize", verbose=0)
    with pytest.raises(tune.TuneError, match="executor"):
        tune.init(executor="kubernetes")
    with pytest.raises(tune.TuneError, match="grid_search"):
        tune.grid_search(3)
    with pytest.raises(tune.TuneError, match="lower"):
        tune.loguniform(0, 1)


def test_function_marker_passes_callables_through():
    def train(config, reporter):
        reporter(value=config["fn"](3))

    [trial] = tune.run_experiments({"fn": {"run": train, "config": {"fn": tune.function(lambda x: x * 2)}}}, verbose=0)
    assert trial.last_result["value"] == 6


def test_seeded_random_search_is_reproducible():
    from tunelab.suggest import BasicVariantGenerator

    def configs(seed):
        gen = BasicVariantGenerator(random_state=seed)
        gen.add_configurations({"e": {"run": lambda c, r: None, "num_samples": 5,
                                      "config": {"x": tune.uniform(0, 1), "y": tune.choice(["a", "b"])}}})
        return [t.config for t in gen.next_trials()]

    assert configs(3) == configs(3)
    assert configs(3) != configs(4)


def test_public_entry_points_are_typed():
    """Editors and type checkers see what the entry points return (not `Any`)."""
    import inspect

    assert inspect.signature(tune.run).return_annotation == "ExperimentAnalysis"
    assert inspect.signature(tune.run_experiments).return_annotation == "list[Trial]"
    assert inspect.signature(tune.init).return_annotation == "None"
    assert os.path.exists(os.path.join(os.path.dirname(tune.__file__), "py.typed"))
