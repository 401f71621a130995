"""`ray.tune.search.hyperopt` -> `tunelab.search.hyperopt`."""
from tunelab.suggest.hyperopt import HyperOptSearch

__all__ = ["HyperOptSearch"]
