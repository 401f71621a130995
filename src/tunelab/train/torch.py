"""Ray Train's `ray.train.torch` for one process: `TorchTrainer` and `get_device`.

`TorchTrainer(train_func, scaling_config=ScalingConfig(num_workers=1, use_gpu=...))` runs `train_func(config)`
inside the trial, on the CPU or the trial's GPU. torch is imported only by `get_device`.
"""
from __future__ import annotations

from typing import Any

from tunelab.error import TuneError
from tunelab.train.trainer import DataParallelTrainer

__all__ = ["TorchTrainer", "get_device"]


class TorchTrainer(DataParallelTrainer):
    """Ray's `TorchTrainer` with one worker: the training loop runs in the trial process (see
    `DataParallelTrainer`). `torch_config` (the process-group backend) is refused: there is no process
    group with one worker."""

    def __init__(self, train_loop_per_worker: Any, *, torch_config: Any = None, **options: Any):
        if torch_config is not None:
            raise TuneError("TorchTrainer(torch_config=...) is not supported: the training loop runs in one "
                            "process, without a torch.distributed process group; leave it out")
        super().__init__(train_loop_per_worker, **options)

    @classmethod
    def _extra_options(cls) -> tuple[str, ...]:
        return ("torch_config",)


def get_device() -> Any:
    """The torch device the training loop should use: `cuda:0` when the trial has a GPU, else the CPU."""
    import torch

    return torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
