"""`ray.tune.search.repeater` -> `tunelab.search.repeater`."""
from tunelab.suggest.repeater import Repeater

__all__ = ["Repeater"]
