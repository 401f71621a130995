"""Integrations with other tools. Each imports its library only when used.

- `MLflowLoggerCallback` (`tunelab.integrations.mlflow`): one MLflow run per trial under a parent run
  per experiment; `pip install 'tunelab[mlflow]'`.
- `WandbLoggerCallback` (`tunelab.integrations.wandb`): one Weights & Biases run per trial, grouped by
  experiment; `pip install 'tunelab[wandb]'`.
- `TuneReportCallback` / `TuneReportCheckpointCallback` in `tunelab.integrations.xgboost` and
  `tunelab.integrations.lightgbm`: callbacks for `xgb.train` / `lgb.train` that report every boosting
  round (and checkpoint the booster) from inside a trial; `pip install 'tunelab[xgboost]'` /
  `'tunelab[lightgbm]'`.
- The same two names in `tunelab.integrations.pytorch_lightning` (a Lightning `Callback`;
  `'tunelab[lightning]'`) and `tunelab.integrations.keras` (a Keras 3 callback; `'tunelab[keras]'`).
  Import them from their modules: this package does not load the frameworks.
"""
from tunelab.integrations.mlflow import MLflowLoggerCallback

__all__ = ["MLflowLoggerCallback"]
