"""Ray Train's `ray.train.lightning` for one process: `RayDDPStrategy`, `RayLightningEnvironment`,
`RayTrainReportCallback` and `prepare_trainer`, so a Lightning training loop written for
`TorchTrainer` runs unchanged inside a tunelab trial.

```python
def train_func(config):
    trainer = pl.Trainer(devices="auto", accelerator="auto", strategy=RayDDPStrategy(),
                         callbacks=[RayTrainReportCallback()], plugins=[RayLightningEnvironment()])
    trainer = prepare_trainer(trainer)
    trainer.fit(Model(config), datamodule=dm)
```

With one worker there is no data parallelism: `RayDDPStrategy` is Lightning's single-device strategy
(the trial's GPU, else the CPU); the options DDP takes (`find_unused_parameters`...) have no effect with
one process. `RayLightningEnvironment` is Lightning's own environment (world size 1, rank 0).
`RayTrainReportCallback` reports `trainer.callback_metrics` plus `epoch` and `step`, with a Lightning
checkpoint (`checkpoint.ckpt`), at the end of every training epoch (after that epoch's validation):
one epoch = one `training_iteration`, so ASHA's `max_t` counts epochs, and a trial the scheduler stops
ends inside `trainer.fit` at once (the report raises).

Built on `lightning.pytorch` (or `pytorch_lightning` when only that package is installed), as Ray's is.
"""
from __future__ import annotations

import os
from typing import Any

from tunelab.error import TuneError
from tunelab.integrations._report import report
from tunelab.storage.layout import LIGHTNING_TRAIN_CHECKPOINT_FILE

try:
    import lightning.pytorch as pl
    from lightning.fabric.plugins.environments import LightningEnvironment
except ImportError:  # the older package name
    try:
        import pytorch_lightning as pl  # type: ignore[no-redef]
        from lightning_fabric.plugins.environments import LightningEnvironment  # type: ignore[assignment]
    except ImportError:
        raise TuneError("tunelab.train.lightning needs Lightning: pip install 'tunelab[lightning]'") from None

__all__ = ["RayDDPStrategy", "RayLightningEnvironment", "RayTrainReportCallback", "prepare_trainer"]


class RayDDPStrategy(pl.strategies.SingleDeviceStrategy):
    """The one-process stand-in for Ray's DDP strategy: Lightning's single-device strategy on the
    trial's GPU (`cuda:0` of the GPUs the trial was given) or the CPU. DDP's keyword options are
    accepted, as Ray's strategy takes them, and have no effect with one process."""

    def __init__(self, **ddp_options: Any):
        from tunelab.train.torch import get_device

        self.ddp_options = ddp_options
        super().__init__(device=get_device())


class RayLightningEnvironment(LightningEnvironment):
    """Lightning's own cluster environment: world size 1, global and local rank 0."""

    def world_size(self) -> int:
        return 1

    def global_rank(self) -> int:
        return 0

    def local_rank(self) -> int:
        return 0

    def node_rank(self) -> int:
        return 0


class RayTrainReportCallback(pl.callbacks.Callback):
    """Report the logged metrics (with `epoch` and `step`) and a checkpoint folder holding
    `CHECKPOINT_NAME` at the end of every training epoch."""

    CHECKPOINT_NAME = LIGHTNING_TRAIN_CHECKPOINT_FILE

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        metrics = {name: value.item() if hasattr(value, "item") else value
                   for name, value in trainer.callback_metrics.items()}
        metrics["epoch"] = trainer.current_epoch
        metrics["step"] = trainer.global_step

        def write(folder: str) -> None:
            trainer.save_checkpoint(os.path.join(folder, self.CHECKPOINT_NAME))

        report(metrics, write)


def prepare_trainer(trainer: Any) -> Any:
    """Check that `trainer` is a Lightning Trainer and return it (one process needs no wiring)."""
    if not isinstance(trainer, pl.Trainer):
        raise TuneError(f"prepare_trainer needs a {pl.__name__}.Trainer, got {trainer!r} (a Trainer from the other "
                        "Lightning package, lightning vs pytorch_lightning, does not mix with these callbacks)")
    return trainer
