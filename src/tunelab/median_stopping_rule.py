"""Seed path `ray.tune.median_stopping_rule` (Ray 0.5, before the `schedulers` package)."""
from tunelab.schedulers.median_stopping import MedianStoppingRule

__all__ = ["MedianStoppingRule"]
