"""MLflowLoggerCallback against a real local MLflow tracking store, driven by real `tunelab.run` calls."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import tunelab
from tunelab.error import TuneError
from tunelab.integrations.mlflow import MLflowLoggerCallback


def train(config, reporter):
    if config["lr"] > 0.25:
        raise ValueError("lr too high")
    for i in range(1, 4):
        reporter(mean_loss=config["lr"] / i, info={"grad": float(i)}, flag=True, phase="warmup")


@pytest.fixture
def tracking_uri(tmp_path: Path, monkeypatch) -> str:
    """A local file store (MLflow 3 wants this opt-in for file stores; MLflow 2 ignores it)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def runs_by_name(client, experiment_name: str) -> dict:
    experiment = client.get_experiment_by_name(experiment_name)
    assert experiment is not None, experiment_name
    return {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}


def test_one_nested_run_per_trial(tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    callback = MLflowLoggerCallback(tracking_uri=tracking_uri, tags={"team": "search"})
    analysis = tunelab.run(train, name="mlexp", config={"lr": tunelab.grid_search([0.1, 0.2, 0.3]), "opt": {"m": 0.9}},
                           callbacks=[callback], verbose=0, raise_on_failed_trial=False)
    client = MlflowClient(tracking_uri=tracking_uri)
    runs = runs_by_name(client, "mlexp")
    trial_names = {str(t) for t in analysis.trials}
    assert set(runs) == trial_names | {"mlexp"}

    parent = runs.pop("mlexp")
    assert parent.info.status == "FAILED"  # one trial failed
    assert parent.data.tags["team"] == "search" and "mlflow.parentRunId" not in parent.data.tags
    statuses = {}
    for trial in analysis.trials:
        run = runs[str(trial)]
        statuses[trial.config["lr"]] = run.info.status
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["trial_id"] == trial.trial_id and run.data.tags["team"] == "search"
        assert run.data.params == {"lr": str(trial.config["lr"]), "opt/m": "0.9"}
    assert statuses == {0.1: "FINISHED", 0.2: "FINISHED", 0.3: "FAILED"}

    finished = runs[str(min(analysis.trials, key=lambda t: t.config["lr"]))]
    history = client.get_metric_history(finished.info.run_id, "mean_loss")
    assert [(m.step, round(m.value, 6)) for m in history] == [(1, 0.1), (2, 0.05), (3, 0.033333)]
    metrics = finished.data.metrics
    assert metrics["info/grad"] == 3.0 and metrics["training_iteration"] == 3
    for left_out in ("flag", "phase", "config", "pid", "timestamp", "done", "trial_id"):
        assert left_out not in metrics


def test_experiment_name_and_artifacts(tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    callback = MLflowLoggerCallback(tracking_uri=tracking_uri, experiment_name="custom", save_artifact=True)
    analysis = tunelab.run(train, name="tunelab_exp", config={"lr": tunelab.grid_search([0.1, 0.2])},
                           callbacks=[callback], verbose=0)
    client = MlflowClient(tracking_uri=tracking_uri)
    runs = runs_by_name(client, "custom")
    assert runs["tunelab_exp"].info.status == "FINISHED"  # the parent run is named after the experiment
    for trial in analysis.trials:
        run = runs[str(trial)]
        assert run.info.status == "FINISHED"
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"params.json", "result.json", "progress.csv"} <= artifacts


def test_missing_mlflow_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(TuneError, match=r"pip install 'tunelab\[mlflow\]'"):
        MLflowLoggerCallback()
