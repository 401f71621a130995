"""`ResultGrid` and `Result`: Ray 2.x's view of a finished experiment, read through `ExperimentAnalysis`
(so best-trial rules, NaN handling and on-disk reading are the ones `tunelab.run` users get)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tunelab.analysis import ExperimentAnalysis
from tunelab.error import TuneError
from tunelab.loggers.encoding import flatten_dict
from tunelab.trainable.checkpoint import Checkpoint, checkpoint_dir_iteration
from tunelab.trial import Trial

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Result", "ResultGrid"]


def trial_error(trial: Trial) -> TuneError | None:
    """The error of an ERROR trial, as an exception that names the trial and its traceback file."""
    if trial.status != Trial.ERROR:
        return None
    where = f"; traceback in {trial.error_file}" if trial.error_file else ""
    return TuneError(f"Trial {trial} ({trial.trial_id}) failed: {trial.error_msg or 'error'}{where}")


class Result:
    """One trial's outcome: `metrics` (its last result), `config`, `checkpoint` (its latest), `path` (the
    trial folder), `error` (None unless it failed), `metrics_dataframe` (every result) and
    `best_checkpoints` (the checkpoints it kept, with the result of their iteration)."""

    def __init__(self, trial: Trial, analysis: ExperimentAnalysis):
        self._trial = trial
        self._analysis = analysis
        self.metrics: dict = trial.last_result
        self.config: dict = trial.config
        self.path: str | None = trial.logdir
        self.error: TuneError | None = trial_error(trial)

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "Result":
        """The result of the trial folder at `path`."""
        analysis = ExperimentAnalysis(path)
        if len(analysis.trials) != 1:
            raise TuneError(f"Result.from_path: {os.fspath(path)!r} must be one trial folder, found "
                            f"{len(analysis.trials)} trials there")
        return cls(analysis.trials[0], analysis)

    @property
    def checkpoint(self) -> Checkpoint | None:
        return self._analysis.get_last_checkpoint(self._trial)

    @property
    def metrics_dataframe(self) -> "pd.DataFrame":
        from tunelab.analysis import _pandas

        return _pandas().DataFrame([flatten_dict(r) for r in self._analysis.history(self._trial)])

    @property
    def best_checkpoints(self) -> list[tuple[Checkpoint, dict]]:
        """(checkpoint, result of its iteration) for every checkpoint folder the trial kept, oldest first."""
        logdir = self.path
        if not logdir or not os.path.isdir(logdir):
            return []
        by_iteration = {r.get("training_iteration"): r for r in self._analysis.history(self._trial)}
        found = sorted((iteration, entry.path) for entry in os.scandir(logdir)
                       if entry.is_dir() and (iteration := checkpoint_dir_iteration(entry.name)) is not None)
        return [(Checkpoint.from_directory(path), by_iteration.get(iteration, {})) for iteration, path in found]

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.metrics.items() if k != "config" and not isinstance(v, dict)}
        error = f", error={self.error}" if self.error else ""
        return f"Result(path={self.path!r}, metrics={shown!r}{error})"


class ResultGrid:
    """The results of `Tuner.fit()`: one `Result` per trial, in trial order (`len`, indexing, iteration),
    `get_best_result`, `get_dataframe`, `errors`, `num_errors`, `num_terminated`, `experiment_path`."""

    def __init__(self, analysis: ExperimentAnalysis, experiment_path: str | None = None):
        self._analysis = analysis
        self._results = [Result(trial, analysis) for trial in analysis.trials]
        self.experiment_path = experiment_path or analysis.experiment_path

    def get_best_result(self, metric: str | None = None, mode: str | None = None, scope: str = "last",
                        filter_nan_and_inf: bool = True) -> Result:
        """The best trial's Result by `metric`/`mode` (default: the TuneConfig's) over `scope` ("last",
        "all", "last-<N>-avg"). With a single trial, that trial (as Ray does)."""
        if len(self._results) == 1 and metric is None and mode is None:
            return self._results[0]
        if (metric or self._analysis.default_metric) is None:
            raise TuneError("No metric is provided. Either pass in a `metric` arg to `get_best_result` or specify "
                            "a `metric` in the `TuneConfig` of your `Tuner`.")
        if (mode or self._analysis.default_mode) is None:
            raise TuneError("No mode is provided. Either pass in a `mode` arg ('min' or 'max') to `get_best_result` "
                            "or specify a `mode` in the `TuneConfig` of your `Tuner`.")
        trial = self._analysis.get_best_trial(metric, mode, scope, filter_nan_and_inf)
        if trial is None:
            name = metric or self._analysis.default_metric
            raise TuneError(f"No best trial found for the given metric: {name!r}. This means that no trial has "
                            "reported this metric, or all values reported for this metric are NaN.")
        return self._results[self._analysis.trials.index(trial)]

    def get_dataframe(self, filter_metric: str | None = None, filter_mode: str | None = None) -> "pd.DataFrame":
        """One row per trial: its last result, or with `filter_metric`/`filter_mode` its best one."""
        return self._analysis.dataframe(metric=filter_metric, mode=filter_mode)

    @property
    def errors(self) -> list[TuneError]:
        return [r.error for r in self._results if r.error is not None]

    @property
    def num_errors(self) -> int:
        return len(self.errors)

    @property
    def num_terminated(self) -> int:
        return sum(1 for t in self._analysis.trials if t.status == Trial.TERMINATED)

    def __len__(self) -> int:
        return len(self._results)

    def __getitem__(self, index: int) -> Result:
        return self._results[index]

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    def __repr__(self) -> str:
        return "ResultGrid<[\n" + ",\n".join(f"  {r!r}" for r in self._results) + "\n]>"
