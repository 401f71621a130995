"""OptunaSearch: tunelab domains and native distributions, conditional and multi-objective spaces,
samplers, seeding, trial states, state round trips and errors."""
from __future__ import annotations

import sys

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from tunelab.error import TuneError
from tunelab.suggest import OptunaSearch, SearchGenerator
from tunelab.suggest.domains import (
    choice, grid_search, loguniform, lograndint, qloguniform, qrandint, quniform, randint, randn, sample_from, uniform,
)

SPACE = {"x": uniform(-5, 5), "y": uniform(-5, 5)}


def quadratic(config):
    return {"loss": (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2}


def states(searcher):
    return [trial.state for trial in searcher._study.trials]


def test_every_domain_converts_with_its_bounds_and_types(drive):
    space = {
        "u": uniform(-1, 1), "qu": quniform(0, 10, 0.5), "lu": loguniform(1e-4, 1e-1),
        "qlu": qloguniform(1e-3, 1, 1e-3), "ri": randint(2, 5), "qri": qrandint(0, 20, 5),
        "lri": lograndint(1, 100), "c": choice(["a", "b", 3]), "const": 7,
    }
    searcher = OptunaSearch(space, metric="loss", mode="min", seed=1)
    history = drive(searcher, lambda c: {"loss": c["u"] ** 2}, 30)
    for config, _ in history:
        assert -1 <= config["u"] <= 1 and config["const"] == 7
        assert config["qu"] % 0.5 == 0 and 0 <= config["qu"] <= 10
        assert 1e-4 <= config["lu"] <= 1e-1 and 1e-3 <= config["qlu"] <= 1
        assert type(config["ri"]) is int and 2 <= config["ri"] <= 4
        assert type(config["qri"]) is int and config["qri"] in (0, 5, 10, 15, 20)
        assert type(config["lri"]) is int and 1 <= config["lri"] <= 99
        assert config["c"] in ("a", "b", 3)


def test_conditional_choice_space(drive):
    space = {"opt": choice([{"name": "sgd", "lr": loguniform(1e-4, 1e-1)}, {"name": "adam", "b1": uniform(0.8, 1)},
                            "none"])}
    searcher = OptunaSearch(space, metric="loss", mode="min", seed=0)

    def objective(config):
        opt = config["opt"]
        return {"loss": 3.0 if opt == "none" else opt.get("lr", 1 - opt.get("b1", 0))}

    history = drive(searcher, objective, 30)
    names = {c["opt"] if c["opt"] == "none" else c["opt"]["name"] for c, _ in history}
    assert names == {"sgd", "adam", "none"}
    params = {key for trial in searcher._study.trials for key in trial.params}
    assert params == {"opt", "opt/0/lr", "opt/1/b1"}


def test_native_distributions(drive):
    space = {"x": FloatDistribution(-5, 5), "net": {"layers": IntDistribution(1, 4)},
             "act": CategoricalDistribution(["relu", "tanh"])}
    searcher = OptunaSearch(space, metric="loss", mode="min", seed=0, points_to_evaluate=[{"x": 0.5}])
    history = drive(searcher, lambda c: {"loss": c["x"] ** 2 + c["net"]["layers"]}, 12)
    assert history[0][0]["x"] == 0.5
    for config, _ in history:
        assert set(config) == {"x", "net", "act"} and 1 <= config["net"]["layers"] <= 4


def test_multi_objective(drive):
    searcher = OptunaSearch(SPACE, metric=["loss", "size"], mode=["min", "max"], seed=0)
    drive(searcher, lambda c: {"loss": quadratic(c)["loss"], "size": c["x"]}, 20)
    study = searcher._study
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    assert all(len(t.values) == 2 for t in study.trials)
    assert study.best_trials


def test_points_to_evaluate_first_then_sampler():
    points = [{"x": 1.0, "y": -2.0}, {"opt": "b"}]
    space = {**SPACE, "opt": choice(["a", "b"])}
    searcher = OptunaSearch(space, metric="loss", mode="min", points_to_evaluate=points, seed=0)
    first = searcher.suggest("a")
    assert (first["x"], first["y"]) == (1.0, -2.0)
    assert searcher.suggest("b")["opt"] == "b"


@pytest.mark.parametrize("sampler", [
    optuna.samplers.TPESampler(multivariate=True, seed=0),
    optuna.samplers.RandomSampler(seed=0),
    optuna.samplers.NSGAIISampler(seed=0),
])
def test_any_sampler(drive, sampler):
    searcher = OptunaSearch(SPACE, metric="loss", mode="min", sampler=sampler)
    assert len(drive(searcher, quadratic, 12)) == 12
    assert searcher._study.sampler is sampler


def test_same_seed_same_suggestions(drive):
    runs = [drive(OptunaSearch(SPACE, metric="loss", mode="min", seed=seed), quadratic, 15) for seed in (3, 3, 4)]
    assert [c for c, _ in runs[0]] == [c for c, _ in runs[1]]
    assert [c for c, _ in runs[0]] != [c for c, _ in runs[2]]


def test_same_values_as_native_optimize(drive):
    """Ask-and-tell through tunelab replays optuna's own optimize loop."""
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=2))
    study.optimize(lambda t: quadratic({"x": t.suggest_float("x", -5, 5), "y": t.suggest_float("y", -5, 5)})["loss"],
                   n_trials=25)
    ours = [r["loss"] for _, r in drive(OptunaSearch(SPACE, metric="loss", mode="min", seed=2), quadratic, 25)]
    assert ours == pytest.approx([t.value for t in study.trials])


def test_trial_states():
    searcher = OptunaSearch(SPACE, metric="loss", mode="min", seed=0)
    for trial_id in "abcde":
        searcher.suggest(trial_id)
    searcher.on_trial_complete("a", {"loss": 1.0})
    searcher.on_trial_complete("b", error=True)
    searcher.on_trial_early_stopped("c", {"loss": 4.0, "training_iteration": 3})
    searcher.on_trial_early_stopped("d", {"training_iteration": 1})
    with pytest.raises(TuneError, match=r"'loss'.*\['acc'\]"):
        searcher.on_trial_complete("e", {"acc": 0.3})
    assert states(searcher) == [TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED, TrialState.PRUNED,
                                TrialState.FAIL]
    assert searcher._study.trials[2].intermediate_values == {3: 4.0}
    searcher.on_trial_complete("unknown", {"loss": 1.0})


def test_max_concurrent_throttles():
    searcher = OptunaSearch(SPACE, metric="loss", mode="min", max_concurrent=1)
    assert searcher.suggest("a") is not None
    assert searcher.suggest("b") is None
    searcher.on_trial_complete("a", {"loss": 2.0})
    assert searcher.suggest("b") is not None


def test_config_domains_through_search_generator(make_experiment):
    generator = SearchGenerator(OptunaSearch(seed=0))
    assert generator.set_search_properties("loss", "min", None)
    generator.add_configurations(make_experiment({**SPACE, "z": sample_from(lambda spec: spec.config.y + 1)},
                                                 num_samples=5))
    for trial in generator.next_trials():
        assert trial.config["z"] == pytest.approx(trial.config["y"] + 1)
        generator.on_trial_complete(trial.trial_id, quadratic(trial.config))
    assert generator.is_finished()


def test_add_evaluated_point():
    space = {"x": uniform(-5, 5), "opt": choice(["a", "b"])}
    searcher = OptunaSearch(space, metric="loss", mode="min", seed=0)
    searcher.add_evaluated_point({"x": 1.0, "opt": "b"}, 0.5)
    searcher.add_evaluated_point({"x": 2.0, "opt": "a"}, None, error=True)
    trials = searcher._study.trials
    assert trials[0].params == {"x": 1.0, "opt": 1} and trials[0].value == 0.5
    assert trials[1].state == TrialState.FAIL
    with pytest.raises(TuneError, match=r"no value for \['opt'\]"):
        searcher.add_evaluated_point({"x": 1.0}, 0.1)


def test_save_restore_continues_identically(tmp_path, drive):
    searcher = OptunaSearch(SPACE, metric="loss", mode="min", seed=9)
    drive(searcher, quadratic, 12)
    searcher.suggest("live")
    path = str(tmp_path / "optuna.pkl")
    searcher.save(path)
    restored = OptunaSearch(SPACE, metric="loss", mode="min", seed=9)
    restored.restore(path)
    for target in (searcher, restored):
        target.on_trial_complete("live", {"loss": 0.3})
    assert [searcher.suggest(f"n{i}") for i in range(3)] == [restored.suggest(f"n{i}") for i in range(3)]


@pytest.mark.parametrize("space, match", [
    ({"n": randn(0, 1)}, "'n'"),
    ({"opt": choice([{"n": randn(0, 1)}])}, "'opt/0/n'"),
    ({"x": sample_from(lambda spec: 1)}, "'x'"),
    ({"x": grid_search([1, 2])}, "grid_search values"),
    ({"x": uniform(0, 1), "y": FloatDistribution(0, 1)}, "mixes"),
    ({"x": 3}, "neither"),
])
def test_spaces_optuna_cannot_take(space, match):
    with pytest.raises(TuneError, match=match):
        OptunaSearch(space, metric="loss", mode="min")


def test_bad_arguments():
    with pytest.raises(TuneError, match="mode must be one of"):
        OptunaSearch(SPACE, metric="loss", mode="best")
    with pytest.raises(TuneError, match="seed"):
        OptunaSearch(SPACE, metric="loss", mode="min", seed=1, sampler=optuna.samplers.RandomSampler())
    with pytest.raises(TuneError, match="metric= and mode="):
        OptunaSearch(SPACE).suggest("a")
    with pytest.raises(TuneError, match="no search space"):
        OptunaSearch(metric="loss", mode="min").suggest("a")
    with pytest.raises(TuneError, match="not in the space"):
        OptunaSearch({"x": FloatDistribution(0, 1)}, metric="l", mode="min", points_to_evaluate=[{"q": 1}]).suggest("a")


def test_missing_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(TuneError, match=r"pip install tunelab\[optuna\]"):
        OptunaSearch(SPACE, metric="loss", mode="min")
