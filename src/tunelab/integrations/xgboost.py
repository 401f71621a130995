"""XGBoost callbacks that report each boosting round to tunelab (Ray 2.x's `ray.tune.integration.xgboost`).

```python
from tunelab.integrations.xgboost import TuneReportCheckpointCallback

def train(config):
    checkpoint = tunelab.get_checkpoint()
    booster = TuneReportCheckpointCallback.get_model(checkpoint) if checkpoint else None
    xgb.train(config, dtrain, num_boost_round=100 - (booster.num_boosted_rounds() if booster else 0),
              evals=[(dvalid, "eval")], xgb_model=booster,
              callbacks=[TuneReportCheckpointCallback({"loss": "eval-logloss"}, frequency=1)])
```

One boosting round = one `tunelab.report` = one `training_iteration`. When tunelab ends the trial
(a scheduler such as ASHA stops it, a stop criterion is met), the report raises inside
`after_iteration` and the exception unwinds `xgb.train` at once: no further round is trained.
xgboost is imported when a callback is built (`pip install 'tunelab[xgboost]'`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tunelab.integrations._report import (
    BoostingCallbackOptions,
    import_framework,
    model_file,
    report,
    select_metrics,
)

__all__ = ["TuneReportCallback", "TuneReportCheckpointCallback"]

try:  # the base class, when xgboost is there; building a callback without it raises a TuneError
    from xgboost.callback import TrainingCallback as _Base
except ImportError:
    _Base = object  # type: ignore[assignment,misc]


def _import_xgboost(owner: str) -> Any:
    return import_framework("xgboost", "xgboost", owner)


def _last_evaluations(evals_log: dict) -> dict[str, float]:
    """xgboost's `{"eval": {"logloss": [..]}}` as `{"eval-logloss": last value}` (Ray's naming); an
    `xgb.cv` entry `(mean, std)` gives `<name>` (the mean) and `<name>-std`."""
    flat: dict[str, float] = {}
    for data_name, by_metric in evals_log.items():
        for metric_name, history in by_metric.items():
            key = f"{data_name}-{metric_name}"
            last = history[-1]
            if isinstance(last, tuple):
                flat[key], flat[f"{key}-std"] = float(last[0]), float(last[1])
            else:
                flat[key] = float(last)
    return flat


class TuneReportCheckpointCallback(_Base, BoostingCallbackOptions):
    """Report the latest evaluation results after every boosting round, with the model as a checkpoint
    every `frequency` rounds and at the end of training.

    Args:
        metrics: what to report: None (every evaluation, named `"<data name>-<metric>"` as in
            `"eval-logloss"`), one such name, a list of them, or `{report name: evaluation name}`.
        filename: the model file's name inside the checkpoint folder (UBJSON, whatever the name).
        frequency: checkpoint every this many rounds (0: never periodically).
        checkpoint_at_end: checkpoint when training ends, unless the last round was just checkpointed.
            As in Ray, this is one more report with the final metrics (so `training_iteration` ends one
            past the number of rounds); it does not happen when tunelab stopped the trial, as training
            ended there (use `frequency` to keep checkpoints of trials a scheduler may stop).
        results_postprocessing_fn: `fn(dict) -> dict` applied to each result before it is reported.
    """

    CHECKPOINT_NAME = "model"

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None, filename: str = CHECKPOINT_NAME,
                 frequency: int = 0, checkpoint_at_end: bool = True,
                 results_postprocessing_fn: Callable[[dict], dict] | None = None):
        _import_xgboost(type(self).__name__)
        self._set_options(metrics, filename, frequency, checkpoint_at_end, results_postprocessing_fn)
        self._evals_log: dict | None = None
        self._last_checkpoint_round: int | None = None

    @classmethod
    def get_model(cls, checkpoint: Any, filename: str = CHECKPOINT_NAME) -> Any:
        """The `xgboost.Booster` saved in `checkpoint` (a tunelab.Checkpoint or its folder)."""
        xgboost = _import_xgboost(cls.__name__)
        with open(model_file(checkpoint, filename, cls.__name__), "rb") as f:
            raw = bytearray(f.read())
        booster = xgboost.Booster()
        booster.load_model(raw)
        return booster

    def _write_model(self, model: Any) -> Callable[[str], None]:
        def write(folder: str) -> None:
            import os

            with open(os.path.join(folder, self._filename), "wb") as f:
                f.write(model.save_raw(raw_format="ubj"))
        return write

    def _result(self, evals_log: dict) -> dict:
        return select_metrics(_last_evaluations(evals_log), self._metrics, self._results_postprocessing_fn,
                              self._owner)

    def before_training(self, model: Any) -> Any:
        self._evals_log, self._last_checkpoint_round = None, None  # a callback may serve several xgb.train calls
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
        """Report this round (with a checkpoint every `frequency` rounds); returns False (go on).
        When tunelab ends the trial the report raises, which stops `xgb.train` here."""
        self._evals_log = evals_log
        result = self._result(evals_log)
        if self._frequency and (epoch + 1) % self._frequency == 0:
            self._last_checkpoint_round = model.num_boosted_rounds()
            report(result, self._write_model(model))
        else:
            report(result)
        return False

    def after_training(self, model: Any) -> Any:
        """With `checkpoint_at_end`, report the final metrics again with the model, unless the last round
        was just checkpointed or no round ran (a restored trial whose checkpoint had every round)."""
        if (not self._checkpoint_at_end or self._evals_log is None
                or self._last_checkpoint_round == model.num_boosted_rounds()):
            return model
        report(self._result(self._evals_log), self._write_model(model))
        return model


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report the latest evaluation results after every boosting round, without checkpoints."""

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None,
                 results_postprocessing_fn: Callable[[dict], dict] | None = None):
        super().__init__(metrics=metrics, frequency=0, checkpoint_at_end=False,
                         results_postprocessing_fn=results_postprocessing_fn)
