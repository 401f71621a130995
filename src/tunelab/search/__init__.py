"""Ray 2.x's `ray.tune.search` paths: the same classes as `tunelab.suggest` (which keeps the 2018 paths).

`tunelab.search.optuna.OptunaSearch` and `tunelab.search.hyperopt.HyperOptSearch` import their
libraries only when built.
"""
from tunelab.suggest.basic_variant import BasicVariantGenerator
from tunelab.suggest.limiter import ConcurrencyLimiter
from tunelab.suggest.repeater import Repeater
from tunelab.suggest.search import SearchAlgorithm
from tunelab.suggest.searcher import Searcher, SearchGenerator

__all__ = ["BasicVariantGenerator", "ConcurrencyLimiter", "Repeater", "SearchAlgorithm", "SearchGenerator",
           "Searcher"]
