"""tunelab.plot: figures built from an experiment folder written by the real JSON/CSV loggers."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tunelab import plot
from tunelab.analysis import ExperimentAnalysis
from tunelab.error import TuneError
from tunelab.loggers import CSVLoggerCallback, JsonLoggerCallback
from tunelab.trial import Trial

# name -> (config, mean_loss per iteration or None when the trial never reports it)
TRIALS = {
    "a": ({"lr": 0.1, "opt": "sgd", "fixed": 1, "nesterov": True}, [0.9, 0.5, 0.4]),
    "b": ({"lr": 0.2, "opt": "adam", "fixed": 1, "nesterov": False}, [0.8, 0.3, 0.2]),
    "c": ({"lr": 0.3, "opt": "sgd", "fixed": 1, "nesterov": True}, [0.7, 0.6, 0.6]),
    "d": ({"lr": 0.4, "opt": "adam", "fixed": 1, "nesterov": False}, None),
}


@pytest.fixture
def exp_dir(tmp_path: Path) -> str:
    """Trials as the controller leaves them; trial n starts at timestamp 100 + 10 n."""
    exp = tmp_path / "exp"
    callbacks = [JsonLoggerCallback(), CSVLoggerCallback()]
    trials: list[Trial] = []
    for n, (name, (config, losses)) in enumerate(TRIALS.items()):
        trial = Trial("train", config, experiment_tag=f"{n}_name={name}")
        trial.logdir = str(exp / trial.dirname())
        os.makedirs(trial.logdir)
        for cb in callbacks:
            cb.on_trial_start(0, trials, trial)
        for i in range(1, 4):
            result = {"training_iteration": i, "time_total_s": 2.0 * i, "timestamp": 100 + 10 * n + i,
                      "trial_id": trial.trial_id, "config": config, "info": {"grad": i * 0.5}}
            if losses is not None:
                result["mean_loss"] = losses[i - 1]
            trial.last_result = result
            for cb in callbacks:
                cb.on_trial_result(0, trials, trial, result)
        trial.status = Trial.TERMINATED
        for cb in callbacks:
            cb.on_trial_complete(0, trials, trial)
        trials.append(trial)
    return str(exp)


def test_parallel_coordinates(exp_dir: str) -> None:
    fig = plot.parallel_coordinates(exp_dir, "mean_loss", mode="min")
    parcoords = fig.data[0]
    dims = {d.label: d for d in parcoords.dimensions}
    assert [d.label for d in parcoords.dimensions][-1] == "mean_loss"
    assert set(dims) == {"lr", "opt", "nesterov", "mean_loss"}  # `fixed` never varies: left out
    assert list(dims["lr"].values) == [0.1, 0.2, 0.3]  # trial d never reported the metric
    assert list(dims["mean_loss"].values) == [0.4, 0.2, 0.6]
    assert list(dims["opt"].ticktext) == ["adam", "sgd"] and list(dims["opt"].values) == [1, 0, 1]
    assert list(dims["nesterov"].ticktext) == ["False", "True"]
    assert parcoords.line.reversescale is True  # lower loss, brighter colour
    assert "3 trials" in fig.layout.title.text


def test_parallel_coordinates_params_and_errors(exp_dir: str) -> None:
    analysis = ExperimentAnalysis(exp_dir)
    fig = plot.parallel_coordinates(analysis, "mean_loss", params=["fixed", "config/lr"])
    assert [d.label for d in fig.data[0].dimensions] == ["fixed", "lr", "mean_loss"]
    assert fig.data[0].line.reversescale is False
    with pytest.raises(TuneError, match=r"params \['nope'\].*available"):
        plot.parallel_coordinates(analysis, "mean_loss", params=["nope"])
    with pytest.raises(TuneError, match="no trial reported a usable 'accuracy'.*mean_loss"):
        plot.parallel_coordinates(analysis, "accuracy")
    with pytest.raises(TuneError, match="mode must be 'min' or 'max'"):
        plot.parallel_coordinates(analysis, "mean_loss", mode="best")


def test_learning_curves(exp_dir: str) -> None:
    fig = plot.learning_curves(exp_dir, "mean_loss")
    assert len(fig.data) == 3
    first = fig.data[0]
    assert first.name == "train_0_name=a"
    assert list(first.x) == [1, 2, 3] and list(first.y) == [0.9, 0.5, 0.4]
    assert fig.layout.xaxis.title.text == "training_iteration"
    nested = plot.learning_curves(exp_dir, "info/grad", x="time_total_s")  # nested keys as a/b
    assert len(nested.data) == 4 and list(nested.data[3].x) == [2.0, 4.0, 6.0]
    with pytest.raises(TuneError, match="no trial reported both 'accuracy'"):
        plot.learning_curves(exp_dir, "accuracy")


def test_best_so_far(exp_dir: str) -> None:
    fig = plot.best_so_far(exp_dir, "mean_loss", "min")
    results, best = fig.data
    assert len(results.x) == 9
    assert list(best.y) == sorted(best.y, reverse=True) and best.y[-1] == 0.2  # running minimum
    assert list(best.x) == sorted(best.x)
    by_trial = plot.best_so_far(exp_dir, "mean_loss", "max", x="trial")
    assert list(by_trial.data[1].x) == [1.0, 2.0, 3.0] and list(by_trial.data[1].y) == [0.9, 0.9, 0.9]
    wall = plot.best_so_far(exp_dir, "mean_loss", "min", x="timestamp")
    assert wall.data[1].x[0] == 0 and wall.data[1].x[-1] == 22  # seconds since the first result
    assert wall.layout.xaxis.title.text == "seconds since the first result"
    with pytest.raises(TuneError, match="needs mode='min' or 'max'"):
        plot.best_so_far(exp_dir, "mean_loss", None)  # type: ignore[arg-type]


def test_save_figure_html_and_errors(exp_dir: str, tmp_path: Path, monkeypatch) -> None:
    fig = plot.learning_curves(exp_dir, "mean_loss")
    path = plot.save_figure(fig, tmp_path / "sub" / "curves.html")
    text = Path(path).read_text()
    assert "mean_loss" in text and len(text) > 1_000_000  # plotly.js embedded: opens offline
    with pytest.raises(TuneError, match="allowed: .html"):
        plot.save_figure(fig, tmp_path / "curves.txt")
    monkeypatch.setitem(sys.modules, "kaleido", None)
    with pytest.raises(TuneError, match="needs kaleido.*pip install kaleido"):
        plot.save_figure(fig, tmp_path / "curves.png")
    with pytest.raises(TuneError, match="needs kaleido"):
        plot.plot_experiment(exp_dir, "mean_loss", "min", tmp_path / "out", formats=("html", "png"))


def test_plot_experiment(exp_dir: str, tmp_path: Path) -> None:
    written = plot.plot_experiment(exp_dir, "mean_loss", "min", tmp_path / "out")
    assert [os.path.basename(p) for p in written] == [
        "parallel_coordinates.html", "learning_curves.html", "best_so_far.html"]
    assert all(os.path.getsize(p) > 0 for p in written)


def test_missing_plotly_says_which_extra(exp_dir: str, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(TuneError, match=r"pip install 'tunelab\[plot\]'"):
        plot.learning_curves(exp_dir, "mean_loss")
