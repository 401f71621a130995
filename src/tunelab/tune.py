"""Seed path `ray.tune.tune`: the module that held `run_experiments` (and later `run`)."""
from tunelab.api import run, run_experiments

__all__ = ["run", "run_experiments"]
