"""`ray.tune.search.searcher` -> `tunelab.search.searcher`."""
from tunelab.suggest.searcher import Searcher

__all__ = ["Searcher"]
