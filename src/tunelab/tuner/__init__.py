"""Ray 2.x's experiment API (`Tuner`, `TuneConfig`, `RunConfig`, `ResultGrid`...) over `tunelab.run`.

The config records are light; `Tuner`, `ResultGrid` and `Result` (which read results with numpy and
pandas) are imported from `tunelab.tuner.tuner` / `tunelab.tuner.result_grid` when first used.
"""
from tunelab.tuner.config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig

__all__ = ["CheckpointConfig", "FailureConfig", "RunConfig", "TuneConfig"]
