"""ExperimentAnalysis from trials and from folders written by the real loggers."""
from __future__ import annotations

import json
import math
import os
import time

import pytest

from tunelab.analysis import ExperimentAnalysis, read_last_result
from tunelab.error import TuneError
from tunelab.loggers import CSVLoggerCallback, JsonLoggerCallback
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trial import Trial

# per trial: the mean_accuracy of each iteration
CURVES = {
    "a": [0.1, 0.9, 0.2],  # best peak, poor end
    "b": [0.3, 0.4, 0.5],  # best last value
    "c": [0.45, 0.45, 0.45],  # best last-5 average (a and b average 0.4)
    "d": [float("nan")] * 3,  # NaN: never best
    "e": None,  # never reports the metric
}


def run_experiment(exp_dir, loggers=True) -> list[Trial]:
    """Trials as the controller leaves them, with their folders written by the real loggers."""
    callbacks = [JsonLoggerCallback(), CSVLoggerCallback()] if loggers else []
    trials = []
    for n, (name, curve) in enumerate(CURVES.items()):
        trial = Trial("train", {"name": name, "lr": 0.1 * n, "opt": {"m": n}}, experiment_tag=f"{n}_name={name}")
        trial.logdir = str(exp_dir / trial.dirname())
        os.makedirs(trial.logdir)
        for cb in callbacks:
            cb.on_trial_start(0, trials, trial)
        for i in range(1, 4):
            result = {"training_iteration": i, "trial_id": trial.trial_id, "config": trial.config, "nested": {"x": i}}
            if curve is not None:
                result["mean_accuracy"] = curve[i - 1]
            trial.last_result = result
            for cb in callbacks:
                cb.on_trial_result(0, trials, trial, result)
        trial.status = Trial.TERMINATED
        for cb in callbacks:
            cb.on_trial_complete(0, trials, trial)
        trials.append(trial)
    return trials


@pytest.fixture
def trials(tmp_path):
    return run_experiment(tmp_path / "exp")


def write_state(trial: Trial, **extra) -> None:
    state = {"trial_id": trial.trial_id, "status": trial.status, "experiment_tag": trial.experiment_tag,
             "trainable_name": trial.trainable_name, "checkpoint": None, "error_file": None, **extra}
    with open(os.path.join(trial.logdir, "trial_state.json"), "w") as f:
        json.dump(state, f)


def names(trial: Trial | None) -> str | None:
    return trial.config["name"] if trial else None


@pytest.mark.parametrize("source", ["trials", "folder"])
def test_best_trial_by_scope(trials, tmp_path, source):
    analysis = ExperimentAnalysis(trials if source == "trials" else str(tmp_path / "exp"), default_metric="mean_accuracy", default_mode="max")
    assert names(analysis.best_trial) == "b"
    assert names(analysis.get_best_trial(scope="all")) == "a"
    assert names(analysis.get_best_trial(scope="last-5-avg")) == "c"
    assert names(analysis.get_best_trial("mean_accuracy", "min", scope="last")) == "a"
    assert analysis.best_config == trials[1].config
    assert analysis.best_result == trials[1].last_result
    assert analysis.best_logdir == trials[1].logdir
    assert names(analysis.get_best_trial("nested/x", "max")) == "a"  # ties: the first trial wins
    assert analysis.get_best_trial("missing", "max") is None
    assert analysis.get_best_config("missing", "max") is None


def test_nan_is_never_best_and_inf_is_filtered_unless_asked(tmp_path):
    trials = [Trial("t", {"i": i}) for i in range(3)]
    for trial, value in zip(trials, [float("nan"), float("inf"), 1.0]):
        trial.last_result = {"loss": value}
    analysis = ExperimentAnalysis(trials)
    assert analysis.get_best_trial("loss", "max") is trials[2]
    assert analysis.get_best_trial("loss", "max", filter_nan_and_inf=False) is trials[1]
    assert analysis.get_best_trial("loss", "min") is trials[2]


def test_errors_name_what_to_pass(trials):
    analysis = ExperimentAnalysis(trials)
    with pytest.raises(TuneError, match="metric and mode.*default_metric"):
        analysis.best_trial
    with pytest.raises(TuneError, match="No mode"):
        analysis.get_best_trial("mean_accuracy")
    with pytest.raises(TuneError, match="'min' or 'max'.*'avg'"):
        analysis.get_best_trial("mean_accuracy", "avg")
    with pytest.raises(TuneError, match="scope"):
        analysis.get_best_trial("mean_accuracy", "max", scope="best")
    with pytest.raises(TuneError, match="'min' or 'max'"):
        ExperimentAnalysis(trials, default_mode="maximum")
    with pytest.raises(TuneError, match="no experiment folder"):
        ExperimentAnalysis("/no/such/folder")


def test_folder_rebuilds_trials(trials, tmp_path):
    write_state(trials[0], status=Trial.ERROR, error_file="error.txt")
    loaded = ExperimentAnalysis(str(tmp_path / "exp")).trials
    assert [t.trial_id for t in loaded] == [t.trial_id for t in trials]
    assert [t.config for t in loaded] == [t.config for t in trials]
    assert [t.logdir for t in loaded] == [t.logdir for t in trials]
    for original, rebuilt in zip(trials[1:], loaded[1:]):
        assert json.dumps(rebuilt.last_result) == json.dumps(original.last_result)  # NaN-safe equality
        assert rebuilt.status == Trial.TERMINATED
        assert rebuilt.dirname() == original.dirname()
    assert loaded[0].status == Trial.ERROR and loaded[0].error_file == os.path.join(trials[0].logdir, "error.txt")
    assert str(loaded[0]) == str(trials[0]) and loaded[0].experiment_tag == trials[0].experiment_tag


def test_dataframe_rows_equal_result_json(trials, tmp_path):
    analysis = ExperimentAnalysis(str(tmp_path / "exp"))
    frame = analysis.dataframe()
    assert len(frame) == len(trials)
    for trial, (_, row) in zip(trials, frame.iterrows()):
        with open(os.path.join(trial.logdir, "result.json")) as f:
            last = json.loads(f.readlines()[-1])
        assert row["training_iteration"] == last["training_iteration"]
        assert row["nested/x"] == last["nested"]["x"]
        assert row["config/opt/m"] == last["config"]["opt"]["m"]
        assert row["config/name"] == trial.config["name"]
        assert row["trial_id"] == trial.trial_id and row["logdir"] == trial.logdir
        value = last.get("mean_accuracy", math.nan)
        assert (math.isnan(value) and math.isnan(row["mean_accuracy"])) or row["mean_accuracy"] == value
    assert "config" not in frame.columns


def test_dataframe_with_metric_takes_each_trials_best_result(trials):
    frame = ExperimentAnalysis(trials).dataframe("mean_accuracy", "max").set_index("config/name")
    assert frame.loc["a", "mean_accuracy"] == 0.9 and frame.loc["a", "training_iteration"] == 2
    assert frame.loc["b", "training_iteration"] == 3
    assert frame.loc["e", "training_iteration"] == 3  # no metric: its last result


def test_trial_dataframes_hold_every_result(trials, tmp_path):
    frames = ExperimentAnalysis(str(tmp_path / "exp")).trial_dataframes
    assert set(frames) == {t.logdir for t in trials}
    frame = frames[trials[0].logdir]
    assert list(frame["training_iteration"]) == [1, 2, 3]
    assert list(frame["mean_accuracy"]) == CURVES["a"]
    assert list(frame["nested/x"]) == [1, 2, 3]


def test_best_checkpoint(trials, tmp_path):
    best = trials[1]
    for iteration in (2, 10, 3):
        os.makedirs(os.path.join(best.logdir, f"checkpoint_{iteration}"))
    analysis = ExperimentAnalysis(str(tmp_path / "exp"), default_metric="mean_accuracy", default_mode="max")
    assert analysis.best_checkpoint == Checkpoint.from_directory(os.path.join(best.logdir, "checkpoint_10"))
    write_state(best, checkpoint="checkpoint_2")
    analysis = ExperimentAnalysis(str(tmp_path / "exp"), default_metric="mean_accuracy", default_mode="max")
    assert analysis.best_checkpoint.path == os.path.join(best.logdir, "checkpoint_2")
    best.checkpoint = Checkpoint.from_dict({"step": 3})
    assert ExperimentAnalysis(trials, "mean_accuracy", "max").best_checkpoint.to_dict() == {"step": 3}
    assert ExperimentAnalysis(trials, "missing", "max").best_checkpoint is None


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "result.json"
    path.write_text('{"training_iteration": 1}\n{"training_iteration": 2}\n{"training_it')
    assert read_last_result(str(path)) == {"training_iteration": 2}
    long_line = json.dumps({"training_iteration": 3, "blob": "x" * 100_000})
    path.write_text('{"training_iteration": 1}\n' + long_line + "\n")
    assert read_last_result(str(path), block=1024)["training_iteration"] == 3


def test_trials_from_memory_need_no_files():
    trial = Trial("t", {"x": 1})
    trial.last_result = {"score": 2.0, "training_iteration": 1}
    analysis = ExperimentAnalysis([trial], "score", "max")
    assert analysis.best_trial is trial
    assert analysis.get_best_trial(scope="all") is trial
    assert analysis.results == {trial.trial_id: trial.last_result}
    assert list(analysis.trial_dataframes[trial.trial_id]["score"]) == [2.0]


def test_loading_many_folders_is_fast(tmp_path):
    exp = tmp_path / "many"
    for n in range(1000):
        folder = exp / f"train_{n}_x={n}_{n:08x}"
        folder.mkdir(parents=True)
        (folder / "params.json").write_text(json.dumps({"x": n}))
        (folder / "result.json").write_text("".join(json.dumps({"training_iteration": i, "score": n + i}) + "\n" for i in range(1, 4)))
    start = time.perf_counter()
    analysis = ExperimentAnalysis(str(exp), "score", "max")
    assert analysis.best_config == {"x": 999}
    assert time.perf_counter() - start < 2.0
    start = time.perf_counter()
    for _ in range(10):
        analysis.get_best_trial()
    assert time.perf_counter() - start < 0.1
