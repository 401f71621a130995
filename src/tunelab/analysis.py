"""`ExperimentAnalysis`: the results of an experiment, from its trials or from its folder on disk.

Built from `Trial` objects (what `tunelab.run` returns) it reads nothing until a query needs the full
history; built from a folder it reads, per trial folder, the last line of `result.json`, `params.json`
and the controller's optional `trial_state.json`. Best-trial queries are cached per
(metric, mode, scope); full histories (`result.json`) are read at most once per trial, on demand.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.loggers.encoding import flatten_dict
from tunelab.result_keys import CONFIG, TRIAL_ID
from tunelab.storage.layout import ERROR_FILE_PREFIX, ERROR_FILE_SUFFIX, PARAMS_FILE, RESULT_FILE, TRIAL_STATE_FILE
from tunelab.storage.layout import TRIAL_FILES as _TRIAL_FILES
from tunelab.storage.lines import read_last_result, warn_skipped
from tunelab.trainable.checkpoint import Checkpoint, checkpoint_dir_iteration
from tunelab.trial import Trial
from tunelab.trial_naming import natural_key

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ExperimentAnalysis", "best_by_last_result", "load_trials"]

_SCOPE = re.compile(r"^(last|all|last-([1-9][0-9]*)-avg)$")


# -- metric values -----------------------------------------------------------------------------------
metric_number = metrics.metric_number  # kept importable here: cli and plot read it from this module


def best_result(results: Iterable[dict], metric: str, mode: str, filter_inf: bool = True) -> tuple[dict, float] | None:
    """The result with the best `metric` value, and that value; None if no result has a usable one."""
    return metrics.best_of(((r, metric_number(r, metric)) for r in results), mode, filter_inf)


def best_by_last_result(
    trials: Iterable[Trial], metric: str, mode: str, filter_inf: bool = True
) -> tuple[Trial, float] | None:
    """The trial whose last result has the best `metric` value, and that value; None if no trial has one."""
    return metrics.best_of(((t, metric_number(t.last_result, metric)) for t in trials), mode, filter_inf)


# -- loading a folder --------------------------------------------------------------------------------
def load_trials(path: str) -> list[Trial]:
    """Rebuild lightweight trials from every trial folder under `path` (a folder holding result.json,
    params.json or trial_state.json), in natural order of their paths."""
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        names = set(filenames)
        if names & _TRIAL_FILES:
            dirnames[:] = []  # checkpoints and user files below a trial folder are not trials
            found.append((natural_key(os.path.relpath(dirpath, path)), dirpath, names))
    return [_load_trial(dirpath, names) for _, dirpath, names in sorted(found, key=lambda f: f[0])]


def _load_trial(logdir: str, names: set[str]) -> Trial:
    state = _read_json(os.path.join(logdir, TRIAL_STATE_FILE)) if TRIAL_STATE_FILE in names else {}
    params = _read_json(os.path.join(logdir, PARAMS_FILE)) if PARAMS_FILE in names else {}
    last = read_last_result(os.path.join(logdir, RESULT_FILE)) if RESULT_FILE in names else {}
    config = params if PARAMS_FILE in names else last.get(CONFIG) or {}
    folder = os.path.basename(logdir)
    trial_id = str(state.get("trial_id") or last.get("trial_id") or folder.rsplit("_", 1)[-1])
    suffix = "_" + trial_id
    name = state.get("trainable_name") or (folder[: -len(suffix)] if folder.endswith(suffix) else folder)
    trial = Trial(name, config, trial_id=trial_id, experiment_tag=state.get("experiment_tag") or "",
                  local_dir=os.path.dirname(logdir))
    trial.logdir = logdir
    trial.last_result = last
    error_files = sorted(n for n in names if n.startswith(ERROR_FILE_PREFIX) and n.endswith(ERROR_FILE_SUFFIX))
    error_file = state.get("error_file") or (error_files[-1] if error_files else None)
    trial.error_file = os.path.join(logdir, error_file) if error_file else None
    trial.status = state.get("status") or (Trial.ERROR if error_files else Trial.TERMINATED)
    checkpoint = state.get("checkpoint")
    if isinstance(checkpoint, str) and checkpoint:
        trial.checkpoint = Checkpoint.from_directory(os.path.join(logdir, checkpoint))
    return trial


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def read_results(path: str) -> list[dict]:
    """Every complete result in a result.json, in order. The whole file is parsed as one JSON array
    (one C call); a file with a torn, blank or unreadable line falls back to parsing line by line, and
    the lines it skips are reported with a warning."""
    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    try:
        values = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        values = []
        skipped = 0
        for line in lines:
            try:
                values.append(json.loads(line))
            except ValueError:
                skipped += bool(line.strip())
        warn_skipped(path, skipped, "torn or not JSON")
    results = [v for v in values if isinstance(v, dict)]
    warn_skipped(path, len(values) - len(results), "not a JSON object")
    return results


# -- the analysis ------------------------------------------------------------------------------------
class ExperimentAnalysis:
    """Results of an experiment: `ExperimentAnalysis(path_or_trials, default_metric=None, default_mode=None)`.

    `path_or_trials` is an experiment folder (or any folder above trial folders) or a list of trials.
    `metric`/`mode` arguments default to `default_metric`/`default_mode`. `scope` says which results
    rank a trial: "last" (its last result), "all" (its best result), "last-5-avg"/"last-10-avg" (the
    mean of its last 5 or 10 values). Trials that never reported the metric, and NaN values, are never
    best; infinities are skipped too unless `filter_nan_and_inf=False`.
    """

    def __init__(
        self,
        path_or_trials: str | os.PathLike | Iterable[Trial],
        default_metric: str | None = None,
        default_mode: str | None = None,
    ):
        if default_mode is not None:
            metrics.check_mode(default_mode, allow_none=False)
        self.default_metric = default_metric
        self.default_mode = default_mode
        if isinstance(path_or_trials, (str, os.PathLike)):
            path = os.path.abspath(os.path.expanduser(os.fspath(path_or_trials)))
            if not os.path.isdir(path):
                raise TuneError(f"ExperimentAnalysis: no experiment folder at {path!r}")
            self.experiment_path: str | None = path
            self._trials = load_trials(path)
        else:
            self.experiment_path = None
            self._trials = list(path_or_trials)
        self._histories: dict[tuple[str | None, str], list[dict]] = {}
        self._best: dict[tuple, Trial | None] = {}

    # -- plain views -------------------------------------------------------------------------------
    @property
    def trials(self) -> list[Trial]:
        return self._trials

    @property
    def results(self) -> dict[str, dict]:
        """trial_id -> last result."""
        return {t.trial_id: t.last_result for t in self._trials}

    def history(self, trial: Trial) -> list[dict]:
        """Every result of `trial` (read once from its result.json; just the last result without one)."""
        key = (trial.logdir, trial.trial_id)
        cached = self._histories.get(key)
        if cached is None:
            path = os.path.join(trial.logdir, RESULT_FILE) if trial.logdir else ""
            cached = read_results(path) if path and os.path.exists(path) else []
            if not cached and trial.last_result:
                cached = [trial.last_result]
            self._histories[key] = cached
        return cached

    # -- best trial --------------------------------------------------------------------------------
    def _resolve(self, metric: str | None, mode: str | None) -> tuple[str, str]:
        metric = metric or self.default_metric
        mode = mode or self.default_mode
        if metric is None or mode is None:
            missing = " and ".join(n for n, v in (("metric", metric), ("mode", mode)) if v is None)
            raise TuneError(
                f"No {missing} given: pass metric='<result key>' and mode='min' or 'max' to this call, "
                "or default_metric= and default_mode= to ExperimentAnalysis(...)"
            )
        metrics.check_mode(mode, allow_none=False)
        return metric, mode

    def _score(self, trial: Trial, metric: str, mode: str, scope: str, filter_inf: bool) -> float | None:
        """The value that ranks `trial` under `scope` (None or NaN when it has none)."""
        if scope == "last":
            return metric_number(trial.last_result, metric)
        if scope == "all":
            best = best_result(self.history(trial), metric, mode, filter_inf)
            return best[1] if best else None
        n = int(scope.split("-")[1])
        values: list[float] = []
        for result in reversed(self.history(trial)):  # only the last n values that exist are needed
            value = metric_number(result, metric)
            if value is not None:
                values.append(value)
                if len(values) == n:
                    break
        return sum(values) / len(values) if values else None

    def get_best_trial(
        self, metric: str | None = None, mode: str | None = None, scope: str = "last", filter_nan_and_inf: bool = True
    ) -> Trial | None:
        """The best trial by `metric` and `mode` over `scope`, or None when no trial reported the metric."""
        metric, mode = self._resolve(metric, mode)
        if not _SCOPE.match(scope):
            raise TuneError(
                f"scope must be 'last', 'all', 'last-5-avg' or 'last-10-avg' (any 'last-<N>-avg'), got {scope!r}"
            )
        key = (metric, mode, scope, filter_nan_and_inf)
        if key not in self._best:
            scored = ((t, self._score(t, metric, mode, scope, filter_nan_and_inf)) for t in self._trials)
            found = metrics.best_of(scored, mode, filter_nan_and_inf)
            self._best[key] = found[0] if found else None
        return self._best[key]

    def get_best_config(self, metric: str | None = None, mode: str | None = None, scope: str = "last") -> dict | None:
        trial = self.get_best_trial(metric, mode, scope)
        return trial.config if trial else None

    def get_best_logdir(self, metric: str | None = None, mode: str | None = None, scope: str = "last") -> str | None:
        trial = self.get_best_trial(metric, mode, scope)
        return trial.logdir if trial else None

    def get_last_checkpoint(self, trial: Trial | None = None) -> Checkpoint | None:
        """The trial's latest checkpoint (default: the best trial): `trial.checkpoint`, else the
        `checkpoint_<iteration>` folder with the highest iteration in its logdir."""
        trial = trial or self.best_trial
        if trial is None:
            return None
        if trial.checkpoint is not None:
            return trial.checkpoint
        if not trial.logdir or not os.path.isdir(trial.logdir):
            return None
        folders = [(iteration, e.path) for e in os.scandir(trial.logdir)
                   if e.is_dir() and (iteration := checkpoint_dir_iteration(e.name)) is not None]
        return Checkpoint.from_directory(max(folders)[1]) if folders else None

    @property
    def best_trial(self) -> Trial | None:
        return self.get_best_trial()

    @property
    def best_config(self) -> dict | None:
        return self.get_best_config()

    @property
    def best_result(self) -> dict | None:
        trial = self.best_trial
        return trial.last_result if trial else None

    @property
    def best_logdir(self) -> str | None:
        return self.get_best_logdir()

    @property
    def best_checkpoint(self) -> Checkpoint | None:
        """The best trial's latest checkpoint (see `get_last_checkpoint`)."""
        return self.get_last_checkpoint()

    # -- dataframes --------------------------------------------------------------------------------
    def _row(self, trial: Trial, result: dict) -> dict[str, Any]:
        """A dataframe row: the flattened result, `config/<key>` columns (the config the result was
        produced with, which PBT may have changed since), `trial_id` and `logdir`."""
        config = result.get(CONFIG)
        row = flatten_dict(result, exclude=(CONFIG,))
        row.update(flatten_dict(config if isinstance(config, dict) else trial.config or {}, prefix="config/"))
        row[TRIAL_ID] = trial.trial_id
        row["logdir"] = trial.logdir
        return row

    def dataframe(self, metric: str | None = None, mode: str | None = None) -> "pd.DataFrame":
        """One row per trial: its last result, or with `metric`/`mode` its best result (scope "all").
        Nested keys are flattened as `a/b`; config values are `config/<key>` columns."""
        pd = _pandas()
        rows = []
        if metric is None and mode is None:
            rows = [self._row(t, t.last_result) for t in self._trials]
        else:
            metric, mode = self._resolve(metric, mode)
            for trial in self._trials:
                best = best_result(self.history(trial), metric, mode)
                rows.append(self._row(trial, best[0] if best else trial.last_result))
        return pd.DataFrame(rows)

    @property
    def trial_dataframes(self) -> dict[str, "pd.DataFrame"]:
        """logdir (trial_id for a trial without one) -> DataFrame of all its results, flattened."""
        pd = _pandas()
        return {
            (t.logdir or t.trial_id): pd.DataFrame([flatten_dict(r) for r in self.history(t)]) for t in self._trials
        }


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ExperimentAnalysis dataframes need pandas: pip install 'tunelab[pandas]'") from e
    return pandas
