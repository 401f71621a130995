"""`MLflowLoggerCallback`: log every trial of an experiment to MLflow.

One MLflow run per trial (named `str(trial)`), nested under one parent run for the experiment (the
`mlflow.parentRunId` tag, which is what `mlflow.start_run(nested=True)` sets). Params are the trial's
flattened config; metrics are the numeric values of each result at step `training_iteration`. Trial
runs end FINISHED when the trial completes and FAILED when it errors; the parent run ends FINISHED when
every trial did. It talks to the tracking store through `MlflowClient` only, so it never touches the
global "active run" of the driver process. mlflow is imported when the callback is built.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunelab.callback import Callback
from tunelab.error import TuneError
from tunelab.loggers.encoding import flatten_dict
from tunelab.loggers.tbx_logger import SKIPPED_KEYS
from tunelab.result_keys import TIMESTAMP, TRAINING_ITERATION

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunelab.trial_view import TrialView

__all__ = ["MLflowLoggerCallback"]

PARENT_RUN_TAG = "mlflow.parentRunId"
_BAD_KEY_CHARS = re.compile(r"[^\w\-. /]")


def _import_mlflow() -> Any:
    try:
        import mlflow
        import mlflow.entities
        import mlflow.tracking
    except ImportError:
        raise TuneError("MLflowLoggerCallback needs mlflow: pip install 'tunelab[mlflow]'") from None
    return mlflow


def _param_limit() -> int:
    """The longest param value this MLflow stores (6000 characters since 2.x, 500 before)."""
    try:
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH
    except ImportError:
        return 500
    return int(MAX_PARAM_VAL_LENGTH)


def _key(name: str) -> str:
    """An MLflow-safe param/metric name (letters, digits, `_-. /`; anything else becomes `_`)."""
    return _BAD_KEY_CHARS.sub("_", name)[:250]


def _metric_value(value: Any) -> float | None:
    """A number MLflow can store (NaN and infinities included; booleans are not metrics)."""
    import numbers

    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


class MLflowLoggerCallback(Callback):
    """Log trials to MLflow: `tunelab.run(..., callbacks=[MLflowLoggerCallback()])`.

    Args:
        tracking_uri: where runs go (`sqlite:///mlflow.db`, `http://host:5000`, ...); None uses MLflow's
            default (`$MLFLOW_TRACKING_URI`, else its local default).
        experiment_name: the MLflow experiment (created if missing); default: the tunelab experiment name.
        tags: extra tags set on the parent run and on every trial run.
        save_artifact: upload each trial's folder (results, checkpoints, error.txt) as run artifacts when
            the trial ends.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str | None = None,
        tags: dict[str, Any] | None = None,
        save_artifact: bool = False,
    ):
        self._mlflow = _import_mlflow()
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.save_artifact = save_artifact
        self._reset()

    def _reset(self) -> None:
        self._client: Any = None
        self._experiment_id: str | None = None
        self._parent_run_id: str | None = None
        self._runs: dict[str, str] = {}  # trial_id -> open run id

    # -- runs --------------------------------------------------------------------------------------
    def setup(self, **info: Any) -> None:
        """Start afresh for a new experiment; the parent run is created with the first trial (or now,
        when the controller passes `experiment_path`)."""
        self._reset()
        path = info.get("experiment_path")
        if path:
            self._ensure_parent(os.path.basename(os.path.normpath(path)))

    def _ensure_parent(self, tunelab_name: str) -> str:
        if self._parent_run_id is None:
            self._client = self._mlflow.tracking.MlflowClient(tracking_uri=self.tracking_uri)
            name = self.experiment_name or tunelab_name
            experiment = self._client.get_experiment_by_name(name)
            self._experiment_id = experiment.experiment_id if experiment else self._client.create_experiment(name)
            tags = {**self.tags, "tunelab.experiment": tunelab_name}
            run = self._client.create_run(self._experiment_id, run_name=tunelab_name, tags=tags)
            self._parent_run_id = run.info.run_id
        return self._parent_run_id

    def _run_id(self, trial: "TrialView") -> str:
        """The trial's MLflow run, created (with its params) the first time the trial is seen."""
        run_id = self._runs.get(trial.trial_id)
        if run_id is None:
            experiment_dir = trial.local_dir or os.path.dirname(trial.logdir or "") or "tunelab"
            parent = self._ensure_parent(os.path.basename(os.path.normpath(experiment_dir)))
            tags = {**self.tags, PARENT_RUN_TAG: parent, "trial_id": trial.trial_id, "trial_name": str(trial)}
            run_id = self._client.create_run(self._experiment_id, run_name=str(trial), tags=tags).info.run_id
            self._runs[trial.trial_id] = run_id
            self._log_params(run_id, trial.config or {})
        return run_id

    def _log_params(self, run_id: str, config: Mapping[str, Any]) -> None:
        Param, limit = self._mlflow.entities.Param, _param_limit()
        params = [Param(_key(k), str(v)[:limit]) for k, v in flatten_dict(config).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self._client.log_batch(run_id, params=params[start:start + 100])

    def _end(self, trial: "TrialView", status: str) -> None:
        run_id = self._runs.pop(trial.trial_id, None)
        if run_id is None:
            return
        if self.save_artifact and trial.logdir and os.path.isdir(trial.logdir):
            self._client.log_artifacts(run_id, trial.logdir)
        self._client.set_terminated(run_id, status)

    # -- hooks -------------------------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._run_id(trial)

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        Metric = self._mlflow.entities.Metric
        run_id = self._run_id(trial)
        step = int(result.get(TRAINING_ITERATION) or 0)
        stamp = _metric_value(result.get(TIMESTAMP))
        millis = int(stamp * 1000) if stamp is not None else int(time.time() * 1000)
        metrics = []
        for key, value in flatten_dict(result, exclude=SKIPPED_KEYS).items():
            number = _metric_value(value)
            if number is not None:
                metrics.append(Metric(_key(key), number, millis, step))
        for start in range(0, len(metrics), 1000):  # MLflow takes at most 1000 metrics per batch
            self._client.log_batch(run_id, metrics=metrics[start:start + 1000])

    def on_trial_complete(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._end(trial, "FINISHED")

    def on_trial_error(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._end(trial, "FAILED")

    def on_experiment_end(self, trials: "Sequence[TrialView]", **info: Any) -> None:
        """Close what is still open: unfinished trials as KILLED; the parent run FINISHED when every
        trial terminated normally, else FAILED."""
        from tunelab.trial import Trial

        by_id = {t.trial_id: t for t in trials}
        for trial_id in list(self._runs):
            trial = by_id.get(trial_id)
            if trial is not None:
                self._end(trial, "KILLED")
            else:
                self._client.set_terminated(self._runs.pop(trial_id), "KILLED")
        if self._parent_run_id is not None:
            ok = all(t.status == Trial.TERMINATED for t in trials)
            self._client.set_terminated(self._parent_run_id, "FINISHED" if ok else "FAILED")
            self._parent_run_id = None
