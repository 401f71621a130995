"""Search algorithms: where trial configs come from.

The controller drives every one through `TrialSource` (tunelab.suggest.trial_source). Users write a
modern `Searcher` (run by `SearchGenerator`), or the seed's `SearchAlgorithm` / `SuggestionAlgorithm`.
`HyperOptSearch` and `OptunaSearch` import their libraries only when built.
"""
from tunelab.suggest.basic_variant import BasicVariantGenerator
from tunelab.suggest.domains import function, grid_search, sample_from
from tunelab.suggest.hyperopt import HyperOptSearch
from tunelab.suggest.limiter import ConcurrencyLimiter
from tunelab.suggest.optuna import OptunaSearch
from tunelab.suggest.repeater import Repeater
from tunelab.suggest.search import SearchAlgorithm
from tunelab.suggest.searcher import Searcher, SearchGenerator, to_search_algorithm
from tunelab.suggest.suggestion import SuggestionAlgorithm
from tunelab.suggest.trial_source import TrialSource

__all__ = [
    "SearchAlgorithm", "BasicVariantGenerator", "grid_search", "function", "sample_from",
    "Searcher", "SearchGenerator", "SuggestionAlgorithm", "ConcurrencyLimiter", "Repeater",
    "HyperOptSearch", "OptunaSearch", "to_search_algorithm", "TrialSource",
]
