"""Seed path `ray.tune.logger`: `pretty_print(result)`, the YAML text of a result that RLlib-era scripts print.

tunelab's result loggers are callbacks (`tunelab.loggers`: JSON, CSV, TensorBoard), on by default.
"""
from tunelab.progress import pretty_print

__all__ = ["pretty_print"]
