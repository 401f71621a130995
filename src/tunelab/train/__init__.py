"""The names Ray 2.x keeps under `ray.train`: `from ray import train` becomes `from tunelab import train`.

The same objects as at the top level (`tunelab.train.RunConfig is tunelab.RunConfig`); `Result` is
imported on first use (it reads results with numpy and pandas). Ray Train's names for one process:
`ScalingConfig` here, `tunelab.train.torch.TorchTrainer` and `tunelab.train.lightning` (which import
torch and Lightning when imported themselves).
"""
from tunelab.train.scaling import ScalingConfig
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trainable.session import get_checkpoint, get_context, report
from tunelab.tuner.config import CheckpointConfig, FailureConfig, RunConfig


def __getattr__(name: str):  # lazy: keep `from tunelab import train` light
    if name == "Result":
        from tunelab.tuner.result_grid import Result

        return Result
    raise AttributeError(f"module 'tunelab.train' has no attribute {name!r}")


__all__ = ["report", "get_checkpoint", "get_context", "Checkpoint", "RunConfig", "CheckpointConfig",
           "FailureConfig", "ScalingConfig", "Result"]
