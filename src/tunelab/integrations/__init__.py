"""Integrations with other tools, as `tunelab.Callback`s. Each imports its library only when used.

- `MLflowLoggerCallback` (`tunelab.integrations.mlflow`): one MLflow run per trial under a parent run
  per experiment; `pip install 'tunelab[mlflow]'`.
"""
from tunelab.integrations.mlflow import MLflowLoggerCallback

__all__ = ["MLflowLoggerCallback"]
