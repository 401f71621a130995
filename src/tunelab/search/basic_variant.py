"""`ray.tune.search.basic_variant` -> `tunelab.search.basic_variant`."""
from tunelab.suggest.basic_variant import BasicVariantGenerator

__all__ = ["BasicVariantGenerator"]
