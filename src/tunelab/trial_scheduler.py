"""Seed path `ray.tune.trial_scheduler` (Ray 0.5, before the `schedulers` package)."""
from tunelab.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

__all__ = ["TrialScheduler", "FIFOScheduler"]
