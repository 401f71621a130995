"""`ray.tune.search.concurrency_limiter` -> `tunelab.search.concurrency_limiter`."""
from tunelab.suggest.limiter import ConcurrencyLimiter

__all__ = ["ConcurrencyLimiter"]
