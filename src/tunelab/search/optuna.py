"""`ray.tune.search.optuna` -> `tunelab.search.optuna`."""
from tunelab.suggest.optuna import OptunaSearch

__all__ = ["OptunaSearch"]
