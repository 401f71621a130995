"""LightGBM callbacks that report each boosting round to tunelab (Ray 2.x's `ray.tune.integration.lightgbm`).

```python
from tunelab.integrations.lightgbm import TuneReportCheckpointCallback

def train(config):
    checkpoint = tunelab.get_checkpoint()
    booster = TuneReportCheckpointCallback.get_model(checkpoint) if checkpoint else None
    lgb.train(config, dtrain, num_boost_round=100 - (booster.current_iteration() if booster else 0),
              valid_sets=[dvalid], valid_names=["eval"], init_model=booster,
              callbacks=[TuneReportCheckpointCallback({"loss": "eval-binary_logloss"}, frequency=1)])
```

One boosting round = one `tunelab.report` = one `training_iteration`. When tunelab ends the trial
(a scheduler such as ASHA stops it, a stop criterion is met), the report raises inside the callback and
the exception unwinds `lgb.train` at once: no further round is trained. lightgbm is imported when a
callback is built (`pip install 'tunelab[lightgbm]'`).
"""
from __future__ import annotations

import os
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


def _import_lightgbm(owner: str) -> Any:
    return import_framework("lightgbm", "lightgbm", owner)


def _evaluations(evaluation_result_list: list) -> dict[str, float]:
    """LightGBM's `[(data name, metric, value, is_higher_better[, stdv])]` as `{"<data>-<metric>": value}`;
    an `lgb.cv` entry gives `<data>-<metric>-mean` and `<data>-<metric>-stdv` (Ray's naming)."""
    flat: dict[str, float] = {}
    for entry in evaluation_result_list:
        data_name, eval_name, value = entry[0:3]
        if len(entry) > 4:
            flat[f"{data_name}-{eval_name}-mean"] = float(value)
            flat[f"{data_name}-{eval_name}-stdv"] = float(entry[4])
        else:
            flat[f"{data_name}-{eval_name}"] = float(value)
    return flat


class TuneReportCheckpointCallback(BoostingCallbackOptions):
    """Report the latest evaluation results after every boosting round, with the model as a checkpoint
    every `frequency` rounds and on the last round.

    Args:
        metrics: what to report: None (every evaluation, named `"<valid name>-<metric>"` as in
            `"valid_0-binary_logloss"`), one such name, a list of them, or `{report name: evaluation name}`.
        filename: the model file's name inside the checkpoint folder (LightGBM's text format).
        frequency: checkpoint every this many rounds (0: never periodically).
        checkpoint_at_end: checkpoint on the last round of `num_boost_round` (with that round's report).
        results_postprocessing_fn: `fn(dict) -> dict` applied to each result before it is reported.
    """

    CHECKPOINT_NAME = "model"

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None, filename: str = CHECKPOINT_NAME,
                 frequency: int = 0, checkpoint_at_end: bool = True,
                 results_postprocessing_fn: Callable[[dict], dict] | None = None):
        _import_lightgbm(type(self).__name__)
        self._set_options(metrics, filename, frequency, checkpoint_at_end, results_postprocessing_fn)

    @classmethod
    def get_model(cls, checkpoint: Any, filename: str = CHECKPOINT_NAME) -> Any:
        """The `lightgbm.Booster` saved in `checkpoint` (a tunelab.Checkpoint or its folder)."""
        lightgbm = _import_lightgbm(cls.__name__)
        return lightgbm.Booster(model_file=model_file(checkpoint, filename, cls.__name__))

    def __call__(self, env: Any) -> None:
        """Report this round, with a checkpoint when due. When tunelab ends the trial the report raises,
        which stops `lgb.train` here."""
        result = select_metrics(_evaluations(env.evaluation_result_list or []), self._metrics,
                                self._results_postprocessing_fn, self._owner)
        at_end = self._checkpoint_at_end and env.iteration == env.end_iteration - 1
        periodic = self._frequency and (env.iteration + 1) % self._frequency == 0
        if at_end or periodic:
            report(result, lambda folder: env.model.save_model(os.path.join(folder, self._filename)))
        else:
            report(result)


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report the latest evaluation results after every boosting round, without checkpoints."""

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None,
                 results_postprocessing_fn: Callable[[dict], dict] | None = None):
        super().__init__(metrics=metrics, frequency=0, checkpoint_at_end=False,
                         results_postprocessing_fn=results_postprocessing_fn)
