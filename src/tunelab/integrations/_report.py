"""What the XGBoost and LightGBM report callbacks share: choosing the metrics to report, checking their
arguments, and reporting a result with the model saved as a checkpoint folder."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from tunelab.error import TuneError
from tunelab.trainable.checkpoint import Checkpoint


def import_framework(module: str, extra: str, owner: str) -> Any:
    """Import `module` or raise a TuneError naming the tunelab extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise TuneError(f"{owner} needs {module}: pip install 'tunelab[{extra}]'") from None


def normalize_metrics(metrics: Any, owner: str) -> list[str] | dict[str, str] | None:
    """`metrics` as Ray takes it: None (report everything), a name, a list of names, or
    `{name to report: framework's name}`."""
    if metrics is None:
        return None
    if isinstance(metrics, str):
        return [metrics]
    if isinstance(metrics, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metrics.items()):
        return dict(metrics)
    if isinstance(metrics, (list, tuple)) and all(isinstance(m, str) for m in metrics):
        return list(metrics)
    raise TuneError(f"{owner}: metrics must be None, a metric name, a list of names or a dict "
                    f"{{report name: evaluation name}}, got {metrics!r}")


def check_frequency(frequency: Any, owner: str) -> int:
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 0:
        raise TuneError(f"{owner}: frequency must be an integer >= 0 (0: no periodic checkpoints), got {frequency!r}")
    return frequency


def select_metrics(evaluated: dict[str, float], metrics: list[str] | dict[str, str] | None,
                   postprocess: Callable[[dict], dict] | None, owner: str,
                   naming: str = "named '<data name>-<metric>', e.g. 'eval-logloss'") -> dict:
    """The result to report: every evaluation (None) or the chosen ones under their report names, then
    `postprocess` (Ray's `results_postprocessing_fn`). `naming` tells, in the error for a missing metric,
    how the framework names its metrics."""
    if metrics is None:
        chosen = dict(evaluated)
    else:
        pairs = metrics.items() if isinstance(metrics, dict) else ((m, m) for m in metrics)
        chosen = {}
        for report_name, eval_name in pairs:
            if eval_name not in evaluated:
                raise TuneError(f"{owner}: metric {eval_name!r} was not evaluated; the evaluations are "
                                f"{sorted(evaluated)} ({naming})")
            chosen[report_name] = evaluated[eval_name]
    if postprocess is not None:
        chosen = postprocess(chosen)
        if not isinstance(chosen, dict):
            raise TuneError(f"{owner}: results_postprocessing_fn must return a dict, got {type(chosen).__name__}")
    return chosen


def report(result: dict, write_model: Callable[[str], None] | None = None) -> None:
    """`tunelab.report(result)`, with a checkpoint folder that `write_model(folder)` fills when given.

    The folder is temporary: tunelab copies it into the trial's `checkpoint_<iteration>/`. When the
    trial is to stop, `tunelab.report` raises (a BaseException) and that unwinds the framework's
    training loop right here."""
    from tunelab.trainable.session import report as tunelab_report

    if write_model is None:
        tunelab_report(result)
        return
    with tempfile.TemporaryDirectory(prefix="tunelab_model_") as folder:
        write_model(folder)
        tunelab_report(result, checkpoint=Checkpoint.from_directory(folder))


def model_file(checkpoint: Any, filename: str, owner: str) -> str:
    """The path of `filename` in a directory checkpoint (a Checkpoint or a folder path)."""
    if isinstance(checkpoint, Checkpoint):
        if checkpoint.path is None:
            raise TuneError(f"{owner}.get_model needs a directory checkpoint (one this callback reported), "
                            "got an in-memory dict checkpoint")
        folder = checkpoint.path
    elif isinstance(checkpoint, (str, os.PathLike)):
        folder = os.fspath(checkpoint)
    else:
        raise TuneError(f"{owner}.get_model needs a tunelab.Checkpoint or a folder path, got {checkpoint!r}")
    path = os.path.join(folder, filename)
    if not os.path.isfile(path):
        raise TuneError(f"{owner}.get_model: the checkpoint {folder} has no model file {filename!r} "
                        f"(it holds {sorted(os.listdir(folder)) if os.path.isdir(folder) else 'nothing'}); "
                        "pass the filename= the callback saved with")
    return path


def normalize_hooks(on: Any, allowed: tuple[str, ...], owner: str) -> list[str]:
    """`on` as Ray takes it (one hook name or a list of them), checked against the framework's hooks."""
    hooks = [on] if isinstance(on, str) else on
    if not isinstance(hooks, (list, tuple)) or not hooks or not all(isinstance(h, str) for h in hooks):
        raise TuneError(f"{owner}: on must be a hook name or a non-empty list of them, got {on!r}")
    unknown = [h for h in hooks if h not in allowed]
    if unknown:
        raise TuneError(f"{owner}: on={on!r} names unknown hooks {unknown}; allowed: {', '.join(allowed)}")
    return list(hooks)


class BoostingCallbackOptions:
    """The options the XGBoost and LightGBM callbacks share (Ray's signatures), checked in one place."""

    def _set_options(self, metrics: Any, filename: str, frequency: Any, checkpoint_at_end: bool,
                     results_postprocessing_fn: Callable[[dict], dict] | None) -> None:
        owner = type(self).__name__
        self._owner = owner
        self._metrics = normalize_metrics(metrics, owner)
        self._filename = filename
        self._frequency = check_frequency(frequency, owner)
        self._checkpoint_at_end = bool(checkpoint_at_end)
        self._results_postprocessing_fn = results_postprocessing_fn
