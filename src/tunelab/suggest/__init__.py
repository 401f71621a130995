"""Search algorithms: where trial configs come from."""
from tunelab.suggest.basic_variant import BasicVariantGenerator
from tunelab.suggest.domains import function, grid_search, sample_from
from tunelab.suggest.search import SearchAlgorithm

__all__ = ["SearchAlgorithm", "BasicVariantGenerator", "grid_search", "function", "sample_from"]
