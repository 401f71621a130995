"""Seed path `ray.tune.suggest.suggestion`: `SuggestionAlgorithm` and its test double
`_MockSuggestionAlgorithm` (both live in `tunelab.suggest.searcher`)."""
from tunelab.suggest.searcher import SuggestionAlgorithm, _MockSuggestionAlgorithm

__all__ = ["SuggestionAlgorithm", "_MockSuggestionAlgorithm"]
