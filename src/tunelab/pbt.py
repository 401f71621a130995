"""Seed path `ray.tune.pbt` (Ray 0.5, before the `schedulers` package): `PopulationBasedTraining`, `explore`."""
from tunelab.schedulers.pbt import PopulationBasedTraining, explore

__all__ = ["PopulationBasedTraining", "explore"]
