"""XGBoost report callbacks in real tunelab runs: ASHA really stops boosting, and a crashed trial
continues from the booster in its checkpoint."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

xgb = pytest.importorskip("xgboost")

import tunelab  # noqa: E402
from tunelab.error import TuneError  # noqa: E402
from tunelab.integrations.xgboost import TuneReportCallback, TuneReportCheckpointCallback  # noqa: E402
from tunelab.schedulers import ASHAScheduler  # noqa: E402

ROUNDS = 12


def data():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=8, random_state=0)
    return xgb.DMatrix(X[:200], label=y[:200]), xgb.DMatrix(X[200:], label=y[200:])


class RoundCounter(xgb.callback.TrainingCallback):
    """Appends one line per boosting round really trained to `rounds.txt` in the trial folder (the
    working directory), before the tunelab callback runs, so rounds after a stop would show."""

    def after_iteration(self, model, epoch, evals_log):
        with open("rounds.txt", "a") as f:
            f.write(f"{model.num_boosted_rounds()}\n")
        return False


def rounds_trained(trial) -> list[int]:
    path = Path(trial.logdir, "rounds.txt")
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def train_asha(config):
    dtrain, dvalid = data()
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "eta": config["eta"], "nthread": 1}
    xgb.train(params, dtrain, num_boost_round=ROUNDS, evals=[(dvalid, "eval")], verbose_eval=False,
              callbacks=[RoundCounter(), TuneReportCheckpointCallback({"loss": "eval-logloss"}, frequency=1)])
    Path("finished").touch()  # only reached when xgboost trained every round


def test_asha_stops_boosting_at_once(tmp_path: Path) -> None:
    scheduler = ASHAScheduler(max_t=ROUNDS + 1, grace_period=2, reduction_factor=3)
    analysis = tunelab.run(train_asha, config={"eta": tunelab.grid_search([0.5, 0.4, 0.001, 0.002, 0.003, 0.3])},
                           metric="loss", mode="min", scheduler=scheduler, local_dir=str(tmp_path), verbose=0)
    stopped = 0
    for trial in analysis.trials:
        iterations = trial.last_result["training_iteration"]
        rounds = rounds_trained(trial)
        booster = TuneReportCheckpointCallback.get_model(trial.checkpoint)
        assert booster.num_boosted_rounds() == min(iterations, ROUNDS)
        if iterations < ROUNDS:  # ASHA stopped it: xgboost stopped in the same round
            stopped += 1
            assert rounds == list(range(1, iterations + 1))
            assert not Path(trial.logdir, "finished").exists()
        else:
            assert rounds == list(range(1, ROUNDS + 1)) and Path(trial.logdir, "finished").exists()
        losses = [r["loss"] for r in analysis.history(trial)]
        assert len(losses) == iterations and all(isinstance(v, float) for v in losses)
    assert stopped >= 2
    assert analysis.best_config["eta"] >= 0.3


class CrashOnce(xgb.callback.TrainingCallback):
    """Fails the first attempt after round `crash_after` was reported (and checkpointed)."""

    def __init__(self, marker: str, crash_after: int):
        self.marker, self.crash_after = marker, crash_after

    def after_iteration(self, model, epoch, evals_log):
        if model.num_boosted_rounds() == self.crash_after and not os.path.exists(self.marker):
            Path(self.marker).touch()
            raise RuntimeError("deliberate crash")
        return False


def train_restorable(config):
    dtrain, dvalid = data()
    checkpoint = tunelab.get_checkpoint()
    booster = TuneReportCheckpointCallback.get_model(checkpoint, filename="booster.ubj") if checkpoint else None
    start = booster.num_boosted_rounds() if booster is not None else 0
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "error"], "eta": 0.3, "nthread": 1}
    callback = TuneReportCheckpointCallback(["eval-logloss", "eval-error"], filename="booster.ubj", frequency=1,
                                            results_postprocessing_fn=lambda r: {**r, "start_round": start})
    xgb.train(params, dtrain, num_boost_round=ROUNDS - start, evals=[(dvalid, "eval")], xgb_model=booster,
              verbose_eval=False,
              callbacks=[RoundCounter(), callback, CrashOnce(config["marker"], config["crash_after"])])


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
    final = TuneReportCheckpointCallback.get_model(trial.checkpoint, filename="booster.ubj")
    assert final.num_boosted_rounds() == ROUNDS
    # the same model as 12 uninterrupted rounds: training went on from round 5's booster
    dtrain, dvalid = data()
    straight = xgb.train({"objective": "binary:logistic", "eval_metric": ["logloss", "error"], "eta": 0.3,
                          "nthread": 1}, dtrain, num_boost_round=ROUNDS)
    assert final.predict(dvalid) == pytest.approx(straight.predict(dvalid), abs=1e-6)


def train_plain(config):
    dtrain, dvalid = data()
    xgb.train({"objective": "binary:logistic", "eval_metric": "auc", "nthread": 1}, dtrain, num_boost_round=4,
              evals=[(dtrain, "train"), (dvalid, "eval")], verbose_eval=False, callbacks=[config["callback"]])


def test_report_callback_reports_every_evaluation_without_checkpoints(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCallback()}, local_dir=str(tmp_path),
                           verbose=0)
    [trial] = analysis.trials
    assert trial.checkpoint is None
    history = analysis.history(trial)
    assert len(history) == 4 and all(0.5 <= r["eval-auc"] <= 1 and 0.5 <= r["train-auc"] <= 1 for r in history)


def test_checkpoint_at_end_adds_one_report_with_the_final_model(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCheckpointCallback("eval-auc")},
                           local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    history = analysis.history(trial)
    assert len(history) == 5 and history[-1]["eval-auc"] == history[-2]["eval-auc"]
    assert "train-auc" not in history[0]
    assert TuneReportCheckpointCallback.get_model(trial.checkpoint).num_boosted_rounds() == 4


def test_cv_reports_mean_and_std(tmp_path: Path) -> None:
    def train_cv(config):
        dtrain, _ = data()
        xgb.cv({"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1}, dtrain, num_boost_round=3,
               nfold=2, callbacks=[TuneReportCallback()])

    analysis = tunelab.run(train_cv, local_dir=str(tmp_path), verbose=0)
    last = analysis.trials[0].last_result
    assert last["training_iteration"] == 3 and 0 < last["test-logloss"] < 0.69 and last["test-logloss-std"] >= 0


def test_unknown_metric_fails_the_trial_naming_the_evaluations(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCallback({"loss": "valid-logloss"})},
                           local_dir=str(tmp_path), verbose=0, raise_on_failed_trial=False)
    [trial] = analysis.trials
    assert trial.status == "ERROR"
    error = Path(trial.error_file).read_text()
    assert "'valid-logloss' was not evaluated" in error and "eval-auc" in error


@pytest.mark.parametrize("kwargs, match", [
    ({"metrics": 3}, "metrics must be"), ({"frequency": -1}, "frequency must be"),
])
def test_bad_arguments(kwargs, match) -> None:
    with pytest.raises(TuneError, match=match):
        TuneReportCheckpointCallback(**kwargs)


def test_get_model_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TuneError, match="no model file 'model'"):
        TuneReportCheckpointCallback.get_model(tunelab.Checkpoint.from_directory(tmp_path))


def test_missing_xgboost_names_the_extra(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(TuneError, match=r"tunelab\[xgboost\]"):
        TuneReportCheckpointCallback()
