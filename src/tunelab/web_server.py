"""Seed path `ray.tune.web_server`: re-exports `TuneClient` and `TuneServer` (see `tunelab.server`)."""
from tunelab.server import TuneClient, TuneServer

__all__ = ["TuneClient", "TuneServer"]
