"""LightGBM report callbacks in real tunelab runs: ASHA really stops boosting, and a crashed trial
continues from the booster in its checkpoint."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

lgb = pytest.importorskip("lightgbm")

import tunelab  # noqa: E402
from tunelab.error import TuneError  # noqa: E402
from tunelab.integrations.lightgbm import TuneReportCallback, TuneReportCheckpointCallback  # noqa: E402
from tunelab.schedulers import ASHAScheduler  # noqa: E402

ROUNDS = 12
PARAMS = {"objective": "binary", "metric": "binary_logloss", "num_threads": 1, "verbose": -1, "deterministic": True,
          "num_leaves": 7}


def data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    dtrain = lgb.Dataset(X[:200], label=y[:200], free_raw_data=False)
    return dtrain, lgb.Dataset(X[200:], label=y[200:], reference=dtrain), X[200:]


def count_round(env) -> None:
    """Appends one line per boosting round really trained to `rounds.txt` in the trial folder (the
    working directory); it runs before the tunelab callback, so rounds after a stop would show."""
    with open("rounds.txt", "a") as f:
        f.write(f"{env.iteration + 1}\n")


def rounds_trained(trial) -> list[int]:
    path = Path(trial.logdir, "rounds.txt")
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def train_asha(config):
    dtrain, dvalid, _ = data()
    lgb.train({**PARAMS, "learning_rate": config["lr"]}, dtrain, num_boost_round=ROUNDS, valid_sets=[dvalid],
              valid_names=["eval"],
              callbacks=[count_round, TuneReportCheckpointCallback({"loss": "eval-binary_logloss"}, frequency=1)])
    Path("finished").touch()  # only reached when lightgbm trained every round


def test_asha_stops_boosting_at_once(tmp_path: Path) -> None:
    scheduler = ASHAScheduler(max_t=ROUNDS + 1, grace_period=2, reduction_factor=3)
    analysis = tunelab.run(train_asha, config={"lr": tunelab.grid_search([0.5, 0.4, 0.001, 0.002, 0.003, 0.3])},
                           metric="loss", mode="min", scheduler=scheduler, local_dir=str(tmp_path), verbose=0)
    stopped = 0
    for trial in analysis.trials:
        iterations = trial.last_result["training_iteration"]
        rounds = rounds_trained(trial)
        booster = TuneReportCheckpointCallback.get_model(trial.checkpoint)
        assert booster.current_iteration() == iterations
        if iterations < ROUNDS:  # ASHA stopped it: lightgbm stopped in the same round
            stopped += 1
            assert rounds == list(range(1, iterations + 1))
            assert not Path(trial.logdir, "finished").exists()
        else:
            assert rounds == list(range(1, ROUNDS + 1)) and Path(trial.logdir, "finished").exists()
        losses = [r["loss"] for r in analysis.history(trial)]
        assert len(losses) == iterations and all(isinstance(v, float) for v in losses)
    assert stopped >= 2
    assert analysis.best_config["lr"] >= 0.3


def train_restorable(config):
    dtrain, dvalid, _ = data()
    checkpoint = tunelab.get_checkpoint()
    booster = TuneReportCheckpointCallback.get_model(checkpoint, filename="booster.txt") if checkpoint else None
    start = booster.current_iteration() if booster is not None else 0

    def crash_once(env) -> None:  # after round crash_after was reported and checkpointed
        if env.iteration + 1 == config["crash_after"] and not os.path.exists(config["marker"]):
            Path(config["marker"]).touch()
            raise RuntimeError("deliberate crash")

    callback = TuneReportCheckpointCallback(["eval-binary_logloss", "eval-auc"], filename="booster.txt", frequency=1,
                                            results_postprocessing_fn=lambda r: {**r, "start_round": start})
    if start == ROUNDS:  # restored from the last round's checkpoint: lgb.train refuses 0 rounds
        return
    lgb.train({**PARAMS, "metric": ["binary_logloss", "auc"]}, dtrain, num_boost_round=ROUNDS - start,
              valid_sets=[dvalid], valid_names=["eval"], init_model=booster,
              callbacks=[count_round, callback, crash_once])


@pytest.mark.parametrize("crash_after", [5, ROUNDS])  # ROUNDS: the restored trial has no round left
def test_crashed_trial_continues_from_its_booster(tmp_path: Path, crash_after: int) -> None:
    config = {"marker": str(tmp_path / "crashed"), "crash_after": crash_after}
    analysis = tunelab.run(train_restorable, config=config, max_failures=1, local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    assert (tmp_path / "crashed").exists() and trial.status == "TERMINATED"
    assert trial.last_result["training_iteration"] == ROUNDS
    assert trial.last_result["start_round"] == crash_after % ROUNDS  # ROUNDS: the last result was the first run's
    assert rounds_trained(trial) == list(range(1, ROUNDS + 1))  # 5 rounds, crash, rounds 6..12: none twice
    history = analysis.history(trial)
    assert [r["training_iteration"] for r in history] == list(range(1, ROUNDS + 1))
    assert [r["start_round"] for r in history] == [0] * crash_after + [crash_after] * (ROUNDS - crash_after)
    final = TuneReportCheckpointCallback.get_model(trial.checkpoint, filename="booster.txt")
    assert final.current_iteration() == ROUNDS
    # the same model as 12 uninterrupted rounds: training went on from round 5's booster
    dtrain, _, X_valid = data()
    straight = lgb.train({**PARAMS, "metric": ["binary_logloss", "auc"]}, dtrain, num_boost_round=ROUNDS)
    assert final.predict(X_valid) == pytest.approx(straight.predict(X_valid), abs=1e-6)


def train_plain(config):
    dtrain, dvalid, _ = data()
    lgb.train({**PARAMS, "metric": "auc"}, dtrain, num_boost_round=4, valid_sets=[dtrain, dvalid],
              valid_names=["train", "eval"], callbacks=[config["callback"]])


def test_report_callback_reports_every_evaluation_without_checkpoints(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCallback()}, local_dir=str(tmp_path),
                           verbose=0)
    [trial] = analysis.trials
    assert trial.checkpoint is None
    history = analysis.history(trial)
    assert len(history) == 4 and all(0.5 <= r["eval-auc"] <= 1 and 0.5 <= r["train-auc"] <= 1 for r in history)


def test_checkpoint_at_end_comes_with_the_last_round(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCheckpointCallback({"auc": "eval-auc"})},
                           local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    history = analysis.history(trial)
    assert len(history) == 4 and "auc" in history[-1] and "train-auc" not in history[0]
    assert Path(trial.checkpoint.path).name == "checkpoint_4"
    assert TuneReportCheckpointCallback.get_model(trial.checkpoint).current_iteration() == 4


def test_cv_reports_mean_and_stdv(tmp_path: Path) -> None:
    def train_cv(config):
        dtrain, _, _ = data()
        lgb.cv({**PARAMS, "metric": "auc"}, dtrain, num_boost_round=3, nfold=2, stratified=False,
               callbacks=[TuneReportCallback()])

    analysis = tunelab.run(train_cv, local_dir=str(tmp_path), verbose=0)
    last = analysis.trials[0].last_result
    assert last["training_iteration"] == 3 and 0.5 <= last["valid-auc-mean"] <= 1 and last["valid-auc-stdv"] >= 0


def test_unknown_metric_fails_the_trial_naming_the_evaluations(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCallback({"loss": "valid-logloss"})},
                           local_dir=str(tmp_path), verbose=0, raise_on_failed_trial=False)
    [trial] = analysis.trials
    assert trial.status == "ERROR"
    error = Path(trial.error_file).read_text()
    assert "'valid-logloss' was not evaluated" in error and "eval-auc" in error


@pytest.mark.parametrize("kwargs, match", [
    ({"metrics": [1]}, "metrics must be"), ({"frequency": 1.5}, "frequency must be"),
])
def test_bad_arguments(kwargs, match) -> None:
    with pytest.raises(TuneError, match=match):
        TuneReportCheckpointCallback(**kwargs)


def test_missing_lightgbm_names_the_extra(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(TuneError, match=r"tunelab\[lightgbm\]"):
        TuneReportCallback()
