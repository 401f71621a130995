"""HyperOptSearch: native and converted spaces, conditional choices, seeding, throttling, errors."""
from __future__ import annotations

import sys

import pytest
from hyperopt import hp

from tunelab.error import TuneError
from tunelab.suggest import HyperOptSearch, SearchGenerator
from tunelab.suggest.domains import (
    choice, grid_search, loguniform, lograndint, qloguniform, qrandint, quniform, randint, randn, sample_from, uniform,
)


def quadratic(config):
    return {"loss": (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2}


SPACE = {"x": uniform(-5, 5), "y": uniform(-5, 5)}


def test_seed_example_native_space_with_reward_attr(drive):
    space = {
        "width": hp.uniform("width", 0, 20),
        "height": hp.uniform("height", -100, 100),
        "activation": hp.choice("activation", ["relu", "tanh"]),
    }
    points = [{"width": 1, "height": 2, "activation": 0}, {"width": 4, "height": 2, "activation": "tanh"}]
    searcher = HyperOptSearch(space, max_concurrent=4, reward_attr="neg_mean_loss", points_to_evaluate=points,
                              random_state_seed=0)
    assert (searcher.metric, searcher.mode) == ("neg_mean_loss", "max")

    def objective(config):
        loss = (0.1 + config["width"] * 0.01) ** -1 + config["height"] * 0.1
        return {"neg_mean_loss": -loss, "mean_loss": loss}

    history = drive(searcher, objective, 30)
    assert history[0][0] == {"width": 1.0, "height": 2.0, "activation": "relu"}
    assert history[1][0] == {"width": 4.0, "height": 2.0, "activation": "tanh"}
    assert all(c["activation"] in ("relu", "tanh") and 0 <= c["width"] <= 20 for c, _ in history)
    best = max(r["neg_mean_loss"] for _, r in history[20:])
    assert best > max(r["neg_mean_loss"] for _, r in history[2:10])


def test_every_domain_converts_with_its_bounds_and_types(drive):
    space = {
        "u": uniform(-1, 1), "qu": quniform(0, 10, 0.5), "lu": loguniform(1e-4, 1e-1),
        "qlu": qloguniform(1e-3, 1, 1e-3), "n": randn(3, 0.1), "ri": randint(2, 5), "qri": qrandint(0, 20, 5),
        "lri": lograndint(1, 100), "c": choice(["a", "b", 3]),
    }
    searcher = HyperOptSearch(space, metric="loss", mode="min", random_state_seed=1, n_initial_points=5)
    history = drive(searcher, lambda c: {"loss": c["u"] ** 2}, 40)
    for config, _ in history:
        assert -1 <= config["u"] <= 1
        assert config["qu"] % 0.5 == 0 and 0 <= config["qu"] <= 10
        assert 1e-4 <= config["lu"] <= 1e-1
        assert 1e-3 <= config["qlu"] <= 1
        assert 2 < config["n"] < 4
        assert type(config["ri"]) is int and 2 <= config["ri"] <= 4
        assert type(config["qri"]) is int and config["qri"] in (0, 5, 10, 15, 20)
        assert type(config["lri"]) is int and 1 <= config["lri"] <= 99
        assert config["c"] in ("a", "b", 3)
    assert {c["ri"] for c, _ in history} == {2, 3, 4}


def test_conditional_choice_space(drive):
    space = {"opt": choice([
        {"name": "sgd", "lr": loguniform(1e-4, 1e-1), "momentum": uniform(0, 1)},
        {"name": "adam", "beta": {"b1": uniform(0.8, 0.99)}},
        "none",
    ])}
    searcher = HyperOptSearch(space, metric="loss", mode="min", random_state_seed=2, n_initial_points=5)

    def objective(config):
        opt = config["opt"]
        if opt == "none":
            return {"loss": 3.0}
        if opt["name"] == "sgd":
            return {"loss": abs(opt["momentum"] - 0.9)}
        return {"loss": 1.0 - opt["beta"]["b1"]}

    history = drive(searcher, objective, 40)
    kinds = set()
    for config, _ in history:
        opt = config["opt"]
        if opt == "none":
            kinds.add("none")
        elif opt["name"] == "sgd":
            assert set(opt) == {"name", "lr", "momentum"} and 1e-4 <= opt["lr"] <= 0.1
            kinds.add("sgd")
        else:
            assert set(opt) == {"name", "beta"} and 0.8 <= opt["beta"]["b1"] <= 0.99
            kinds.add("adam")
    assert kinds == {"sgd", "adam", "none"}


def test_conditional_points_to_evaluate():
    space = {"opt": choice([{"name": "sgd", "lr": uniform(0, 1)}, {"name": "adam"}])}
    points = [{"opt": {"name": "adam"}}, {"opt": {"name": "sgd", "lr": 0.25}}]
    searcher = HyperOptSearch(space, metric="loss", mode="min", points_to_evaluate=points)
    assert searcher.suggest("a") == {"opt": {"name": "adam"}}
    assert searcher.suggest("b") == {"opt": {"name": "sgd", "lr": 0.25}}
    assert isinstance(searcher.suggest("c")["opt"], dict)
    with pytest.raises(TuneError, match=r"no value for \['opt'\]"):
        HyperOptSearch(space, metric="loss", mode="min", points_to_evaluate=[{}])


def test_same_seed_same_suggestions(drive):
    runs = [drive(HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=seed, n_initial_points=5),
                  quadratic, 15) for seed in (7, 7, 8)]
    assert [c for c, _ in runs[0]] == [c for c, _ in runs[1]]
    assert [c for c, _ in runs[0]] != [c for c, _ in runs[2]]


def _native_losses(algo, seed, n):
    import numpy as np
    from hyperopt import Trials, fmin

    trials = Trials()
    native_space = {"x": hp.uniform("x", -5, 5), "y": hp.uniform("y", -5, 5)}
    fmin(lambda c: quadratic(c)["loss"], native_space, algo=algo, max_evals=n, trials=trials,
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return trials.losses()


@pytest.mark.parametrize("seed, gamma", [(0, 0.25), (1, 0.25), (0, 1.0)])
def test_same_losses_as_native_fmin(drive, seed, gamma):
    """Ask-and-tell through tunelab replays hyperopt's own fmin loop draw for draw."""
    from functools import partial

    from hyperopt import tpe

    native = _native_losses(partial(tpe.suggest, n_startup_jobs=10, gamma=gamma), seed, 30)
    searcher = HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=seed, n_initial_points=10,
                              gamma=gamma)
    ours = [r["loss"] for _, r in drive(searcher, quadratic, 30)]
    assert ours == pytest.approx(native)


def test_defaults_and_hyperopts_own_tpe(drive):
    """The defaults are 10 start-up points and gamma=1.0, given to hyperopt's tpe.suggest;
    n_initial_points=20, gamma=0.25 gives hyperopt's own default TPE exactly."""
    from functools import partial

    from hyperopt import tpe

    from tunelab.suggest.hyperopt import DEFAULT_GAMMA, DEFAULT_N_INITIAL_POINTS

    assert (DEFAULT_N_INITIAL_POINTS, DEFAULT_GAMMA) == (10, 1.0)
    ours = [r["loss"] for _, r in drive(HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=3),
                                        quadratic, 30)]
    assert ours == pytest.approx(_native_losses(partial(tpe.suggest, n_startup_jobs=10, gamma=1.0), 3, 30))
    hyperopts_own = _native_losses(tpe.suggest, 3, 30)
    assert ours[:10] == pytest.approx(hyperopts_own[:10])  # the same random start-up points ...
    assert ours[10:20] != pytest.approx(hyperopts_own[10:20])  # ... then TPE, where hyperopt is still random
    explicit = HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=3, n_initial_points=20,
                              gamma=0.25)
    assert [r["loss"] for _, r in drive(explicit, quadratic, 30)] == pytest.approx(hyperopts_own)


def test_pending_trials_are_shown_to_tpe_as_unfinished_jobs():
    """Live trials reach tpe.suggest as hyperopt's fmin shows its queued jobs: new, without a loss (which
    TPE counts as infinite); failed trials are left out."""
    import hyperopt

    searcher = HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=0, n_initial_points=2)
    seen = []
    algo = searcher._algo

    def spy(new_ids, domain, trials, seed):
        seen.append([(doc["state"], doc["result"].get("loss")) for doc in trials.trials])
        return algo(new_ids, domain, trials, seed)

    searcher._algo = spy
    for trial_id in "abcd":
        searcher.suggest(trial_id)
    searcher.on_trial_complete("a", {"loss": 2.0})
    searcher.on_trial_complete("b", error=True)
    searcher.suggest("e")
    new, done = hyperopt.JOB_STATE_NEW, hyperopt.JOB_STATE_DONE
    assert seen[-1] == [(done, 2.0), (new, None), (new, None)]


def test_mode_max_maximises(drive):
    searcher = HyperOptSearch(SPACE, metric="score", mode="max", random_state_seed=4, n_initial_points=10)
    history = drive(searcher, lambda c: {"score": -quadratic(c)["loss"]}, 60)
    assert max(r["score"] for _, r in history[30:]) > -1.0


def test_max_concurrent_throttles():
    searcher = HyperOptSearch(SPACE, metric="loss", mode="min", max_concurrent=2, random_state_seed=0)
    assert searcher.suggest("a") is not None and searcher.suggest("b") is not None
    assert searcher.suggest("c") is None
    searcher.on_trial_complete("a", {"loss": 1.0})
    assert searcher.suggest("c") is not None
    assert searcher.set_max_concurrency(5)
    assert searcher.suggest("d") is not None


def test_config_domains_through_search_generator(make_experiment):
    searcher = HyperOptSearch(metric="loss", mode="min", random_state_seed=0)
    generator = SearchGenerator(searcher)
    generator.add_configurations(make_experiment(
        {"x": uniform(-5, 5), "y": uniform(-5, 5), "scaled": sample_from(lambda spec: spec.config.x * 10), "c": 1},
        num_samples=4))
    trials = generator.next_trials()
    assert len(trials) == 4
    for trial in trials:
        assert trial.config["scaled"] == pytest.approx(trial.config["x"] * 10) and trial.config["c"] == 1
        generator.on_trial_complete(trial.trial_id, quadratic(trial.config))
    assert generator.is_finished()


def test_errors_and_early_stops_become_hyperopt_errors():
    import hyperopt

    searcher = HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=0)
    for trial_id in "abcd":
        searcher.suggest(trial_id)
    searcher.on_trial_complete("a", error=True)
    searcher.on_trial_early_stopped("b", {"training_iteration": 1})
    searcher.on_trial_early_stopped("c", {"loss": 0.5})
    with pytest.raises(TuneError, match=r"metric 'loss'.*\['accuracy', 'training_iteration'\]"):
        searcher.on_trial_complete("d", {"accuracy": 0.5, "training_iteration": 3})
    states = [doc["state"] for doc in searcher._trials._dynamic_trials]
    assert states == [hyperopt.JOB_STATE_ERROR, hyperopt.JOB_STATE_ERROR, hyperopt.JOB_STATE_DONE,
                      hyperopt.JOB_STATE_ERROR]
    searcher.on_trial_complete("never-suggested", {"loss": 1})


@pytest.mark.parametrize("space, match", [
    ({"opt": choice([{"lr": sample_from(lambda spec: 0.1)}])}, "'opt/0/lr'"),
    ({"x": sample_from(lambda spec: 1)}, "'x'"),
    ({"x": grid_search([1, 2])}, "grid_search values"),
    ({"x": uniform(0, 1), "y": hp.uniform("y", 0, 1)}, "mixes"),
])
def test_spaces_hyperopt_cannot_take(space, match):
    with pytest.raises(TuneError, match=match):
        HyperOptSearch(space, metric="loss", mode="min")


def test_bad_arguments():
    with pytest.raises(TuneError, match="mode must be one of"):
        HyperOptSearch(SPACE, metric="loss", mode="lowest")
    with pytest.raises(TuneError, match="one metric"):
        HyperOptSearch(SPACE, metric=["a", "b"], mode="min")
    with pytest.raises(TuneError, match="not both"):
        HyperOptSearch(SPACE, metric="loss", mode="min", reward_attr="reward")
    with pytest.raises(TuneError, match="no search space"):
        HyperOptSearch(metric="loss", mode="min").suggest("a")
    with pytest.raises(TuneError, match="metric= and mode="):
        HyperOptSearch(SPACE, metric="loss").suggest("a")
    with pytest.raises(TuneError, match="not one of the choices"):
        HyperOptSearch({"c": choice(["a", "b"])}, metric="l", mode="min", points_to_evaluate=[{"c": "z"}])
    with pytest.raises(TuneError, match="points_to_evaluate must be a list"):
        HyperOptSearch(SPACE, metric="loss", mode="min", points_to_evaluate={"x": 1})


def test_seed_default_metric_when_none_given():
    searcher = HyperOptSearch(SPACE)
    searcher.suggest("a")
    assert (searcher.metric, searcher.mode) == ("episode_reward_mean", "max")


def test_second_space_is_refused():
    searcher = HyperOptSearch(SPACE, metric="loss", mode="min")
    assert searcher.set_search_properties(None, None, {"z": 3})
    assert not searcher.set_search_properties(None, None, {"z": uniform(0, 1)})


def test_save_restore_continues_identically(tmp_path, drive):
    def make():
        return HyperOptSearch(SPACE, metric="loss", mode="min", random_state_seed=5, n_initial_points=5)

    searcher = make()
    drive(searcher, quadratic, 12)
    searcher.suggest("live")
    path = str(tmp_path / "hyperopt.pkl")
    searcher.save(path)
    restored = make()
    restored.restore(path)
    for target in (searcher, restored):
        target.on_trial_complete("live", {"loss": 0.3})
    assert [searcher.suggest(f"n{i}") for i in range(3)] == [restored.suggest(f"n{i}") for i in range(3)]


def test_missing_library_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "hyperopt", None)
    with pytest.raises(TuneError, match=r"pip install tunelab\[hyperopt\]"):
        HyperOptSearch(SPACE, metric="loss", mode="min")
