"""Seed path `ray.tune.schedulers.median_stopping_rule` (tunelab's module is `median_stopping`)."""
from tunelab.schedulers.median_stopping import MedianStoppingRule

__all__ = ["MedianStoppingRule"]
