"""Plots of an experiment with plotly: parallel coordinates, learning curves and the best value so far.

Each function takes an `ExperimentAnalysis` (what `tunelab.run` returns) or an experiment folder and
returns a `plotly.graph_objects.Figure`; `save_figure` writes one as self-contained HTML (works offline)
or as an image. Data comes from `ExperimentAnalysis` (`dataframe()`, `history()`), never from the files
directly. plotly is imported only when a plot is made: `pip install 'tunelab[plot]'`.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.result_keys import CONFIG, TIME_TOTAL_S, TIMESTAMP, TRAINING_ITERATION

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from tunelab.analysis import ExperimentAnalysis

__all__ = ["parallel_coordinates", "learning_curves", "best_so_far", "save_figure", "plot_experiment"]

PLOT_EXTRA = "pip install 'tunelab[plot]'"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".svg", ".pdf")
_SCALARS = (str, int, float, bool)


def _go() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise TuneError(f"tunelab plots need plotly: {PLOT_EXTRA}") from None
    return go


def _as_analysis(analysis: "ExperimentAnalysis | str | os.PathLike") -> "ExperimentAnalysis":
    from tunelab.analysis import ExperimentAnalysis

    if isinstance(analysis, (str, os.PathLike)):
        return ExperimentAnalysis(analysis)
    return analysis


_usable = metrics.is_usable  # finite numbers only: NaN/inf points are left out of plots
_number = metrics.as_number  # numbers (numpy included, booleans not) as float, else None


def _reported_numbers(analysis: "ExperimentAnalysis") -> str:
    """`numeric result keys: [...]`, for error messages that name what could be plotted instead."""
    from tunelab.loggers.encoding import flatten_dict

    keys = {k for t in analysis.trials for k, v in flatten_dict(t.last_result or {}, exclude=(CONFIG,)).items()
            if _number(v) is not None}
    return f"numeric result keys: {sorted(keys)}"


# -- parallel coordinates ----------------------------------------------------------------------------
def _is_numeric(values: Sequence[Any]) -> bool:
    return all(_number(v) is not None for v in values)


def _dimension(label: str, column: Any) -> dict[str, Any]:
    """One parcoords axis. Numbers are plotted as they are; anything else (strings, booleans, None, mixed)
    is mapped to integer positions labelled with the values."""
    values = list(column)
    present = [v for v in values if v is not None and v == v]
    if present and _is_numeric(present):
        return {"label": label, "values": [float(v) if v is not None else math.nan for v in values]}
    labels = sorted({str(v) for v in values}, key=lambda s: (s == "None", s))
    index = {text: i for i, text in enumerate(labels)}
    return {
        "label": label,
        "values": [index[str(v)] for v in values],
        "tickvals": list(range(len(labels))),
        "ticktext": labels,
        "range": [0, max(1, len(labels) - 1)],
    }


def _param_columns(df: Any, params: Sequence[str] | None) -> list[str]:
    """The `config/<key>` columns to plot: `params` (with or without the prefix), else the scalar config
    values that differ between trials (all scalar ones when none differ)."""
    scalar = [c for c in df.columns if c.startswith("config/")
              and all(v is None or isinstance(v, _SCALARS) for v in df[c])]
    if params is not None:
        columns = [p if p.startswith("config/") else f"config/{p}" for p in params]
        missing = [c[len("config/"):] for c in columns if c not in scalar]
        if missing:
            raise TuneError(f"params {missing} are not scalar config values of these trials; "
                            f"available: {[c[len('config/'):] for c in scalar]}")
        return columns
    varying = [c for c in scalar if len({str(v) for v in df[c]}) > 1]
    return varying or scalar


def parallel_coordinates(
    analysis: "ExperimentAnalysis | str | os.PathLike",
    metric: str,
    mode: str | None = None,
    params: Sequence[str] | None = None,
) -> "go.Figure":
    """Hyperparameters against `metric`, one line per trial (its last result): the seed's parcoords view.

    `params` picks config keys (default: those that vary). With `mode`, the colour scale is oriented so
    that the best trials are always the brightest.
    """
    go = _go()
    metrics.check_mode(mode)
    analysis = _as_analysis(analysis)
    df = analysis.dataframe()
    numbers = [_number(v) for v in df[metric]] if metric in df.columns else []
    keep = [_usable(v) for v in numbers]
    if not any(keep):
        raise TuneError(f"no trial reported a usable {metric!r}; {_reported_numbers(analysis)}")
    df = df[keep]
    dimensions = [_dimension(c[len("config/"):], df[c]) for c in _param_columns(df, params)]
    scores = [v for v in numbers if _usable(v)]
    dimensions.append({"label": metric, "values": scores})
    line = {"color": scores, "colorscale": "Viridis", "showscale": True, "reversescale": mode == "min",
            "colorbar": {"title": {"text": metric}}}
    fig = go.Figure(go.Parcoords(line=line, dimensions=dimensions))
    fig.update_layout(title=f"{metric} by hyperparameter ({len(scores)} trials)")
    return fig


# -- curves ------------------------------------------------------------------------------------------
def _points(results: Iterable[dict], x: str, metric: str) -> tuple[list[float], list[float]]:
    from tunelab.metrics import metric_number

    xs, ys = [], []
    for result in results:
        xv, yv = metric_number(result, x), metric_number(result, metric)
        if xv is not None and yv is not None:
            xs.append(xv)
            ys.append(yv)
    return xs, ys


def learning_curves(
    analysis: "ExperimentAnalysis | str | os.PathLike", metric: str, x: str = TRAINING_ITERATION
) -> "go.Figure":
    """`metric` against `x` (a result key), one line per trial, from every result of each trial."""
    go = _go()
    analysis = _as_analysis(analysis)
    fig = go.Figure()
    for trial in analysis.trials:
        xs, ys = _points(analysis.history(trial), x, metric)
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=str(trial)))
    if not fig.data:
        raise TuneError(f"no trial reported both {metric!r} and {x!r}; {_reported_numbers(analysis)}")
    fig.update_layout(title=f"{metric} per {x}", xaxis_title=x, yaxis_title=metric, legend_title_text="trial")
    return fig


def _completion_order(analysis: "ExperimentAnalysis", metric: str, mode: str) -> list[tuple[float, float, str]]:
    """Per trial its best `metric` value, placed at 1, 2, ... in the order trials finished (by the
    timestamp of their last result)."""
    from tunelab.analysis import best_result
    from tunelab.metrics import metric_number

    scored = []
    for order, trial in enumerate(analysis.trials):
        best = best_result(analysis.history(trial), metric, mode)
        if best is not None:
            stamp = metric_number(trial.last_result, TIMESTAMP)
            scored.append((stamp if stamp is not None else math.inf, order, best[1], str(trial)))
    scored.sort()
    return [(float(i + 1), value, name) for i, (_, _, value, name) in enumerate(scored)]


def _all_results(analysis: "ExperimentAnalysis", metric: str, x: str) -> list[tuple[float, float, str]]:
    """Every result as `(x, value, trial name)`; `x="timestamp"` counts seconds from the first result."""
    points: list[tuple[float, float, str]] = []
    for trial in analysis.trials:
        xs, ys = _points(analysis.history(trial), x, metric)
        points += [(xv, yv, str(trial)) for xv, yv in zip(xs, ys)]
    if x == TIMESTAMP and points:
        start = min(p[0] for p in points)
        points = [(xv - start, yv, name) for xv, yv, name in points]
    return sorted(points, key=lambda p: p[0])


def best_so_far(
    analysis: "ExperimentAnalysis | str | os.PathLike", metric: str, mode: str, x: str = TIME_TOTAL_S
) -> "go.Figure":
    """The best `metric` value found so far, as a step line over every result.

    `x` orders the results: a result key such as `time_total_s` (each trial's own clock, as if all
    trials started together) or `training_iteration`; `"timestamp"` (wall-clock seconds since the first
    result); or `"trial"` (trials in the order they finished, each with its best value).
    """
    go = _go()
    if not metrics.is_mode(mode):
        raise TuneError(f"best_so_far needs mode='min' or 'max', got {mode!r}")
    analysis = _as_analysis(analysis)
    points = _completion_order(analysis, metric, mode) if x == "trial" else _all_results(analysis, metric, x)
    best_x, best_y, best_name, best = [], [], [], None
    for xv, yv, name in points:
        if _usable(yv) and (best is None or metrics.is_better(yv, best, mode)):
            best = yv
        if best is not None:
            best_x.append(xv)
            best_y.append(best)
            best_name.append(name)
    if not best_x:
        raise TuneError(f"no trial reported a usable {metric!r}" + ("" if x == "trial" else f" with {x!r}")
                        + f"; {_reported_numbers(analysis)}")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="markers", name="results",
                             text=[p[2] for p in points], marker={"size": 5, "opacity": 0.4}))
    fig.add_trace(go.Scatter(x=best_x, y=best_y, mode="lines", line_shape="hv", name=f"best {metric} ({mode})"))
    x_title = {"trial": "trials finished", TIMESTAMP: "seconds since the first result"}.get(x, x)
    fig.update_layout(title=f"best {metric} so far ({mode})", xaxis_title=x_title, yaxis_title=metric)
    return fig


# -- saving ------------------------------------------------------------------------------------------
def image_export_available() -> bool:
    """Whether plotly can write images here (kaleido installed)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    return True


def save_figure(fig: "go.Figure", path: str | os.PathLike) -> str:
    """Write `fig` to `path`: `.html` as a self-contained page (plotly.js embedded, so it opens offline),
    `.png`/`.svg`/`.pdf`/... as an image through kaleido. Returns the path written."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".html", ".htm") + IMAGE_EXTENSIONS:
        raise TuneError(f"cannot save a figure as {ext or 'a file without extension'!r}; allowed: "
                        f"{', '.join(('.html',) + IMAGE_EXTENSIONS)}")
    if ext in IMAGE_EXTENSIONS and not image_export_available():
        raise TuneError(f"writing {ext} files needs kaleido, which is not installed: pip install kaleido")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if ext in (".html", ".htm"):
        fig.write_html(path, include_plotlyjs=True)
        return path
    try:
        fig.write_image(path)
    except Exception as exc:  # kaleido >= 1 also needs a Chrome/Chromium it can start
        raise TuneError(f"could not write {path}: {type(exc).__name__}: {exc}") from None
    return path


def plot_experiment(
    analysis: "ExperimentAnalysis | str | os.PathLike",
    metric: str,
    mode: str,
    out_dir: str | os.PathLike,
    formats: Sequence[str] = ("html",),
) -> list[str]:
    """Write `parallel_coordinates`, `learning_curves` and `best_so_far` into `out_dir`, one file per
    plot and format (`html`, `png`, ...); returns the paths written."""
    if any(f != "html" for f in formats) and not image_export_available():
        raise TuneError("writing images needs kaleido, which is not installed: pip install kaleido")
    analysis = _as_analysis(analysis)
    figures = {
        "parallel_coordinates": parallel_coordinates(analysis, metric, mode),
        "learning_curves": learning_curves(analysis, metric),
        "best_so_far": best_so_far(analysis, metric, mode),
    }
    return [save_figure(fig, os.path.join(out_dir, f"{name}.{fmt}"))
            for fmt in formats for name, fig in figures.items()]
