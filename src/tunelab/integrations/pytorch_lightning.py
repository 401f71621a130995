"""PyTorch Lightning callbacks that report to tunelab from inside a trial (Ray 2.x's
`ray.tune.integration.pytorch_lightning`).

```python
from tunelab.integrations.pytorch_lightning import TuneReportCheckpointCallback

def train(config):
    callback = TuneReportCheckpointCallback({"loss": "val_loss"}, on="validation_end")
    trainer = lightning.Trainer(max_epochs=10, callbacks=[callback], enable_progress_bar=False)
    checkpoint = tunelab.get_checkpoint()
    ckpt_path = os.path.join(checkpoint.path, "checkpoint") if checkpoint else None
    trainer.fit(Model(config), datamodule, ckpt_path=ckpt_path)  # continues at the checkpoint's epoch
```

Each hook named in `on` (by default the end of every validation run, i.e. once per epoch) is one
`tunelab.report` = one `training_iteration`, with `trainer.callback_metrics` (what the module `self.log`s)
and, for `TuneReportCheckpointCallback`, a full Lightning checkpoint (`trainer.save_checkpoint`: weights,
optimizer, epoch and loop state). When tunelab ends the trial (ASHA stops it, a stop criterion is met)
the report raises a `BaseException` that Lightning passes on after calling `on_exception` hooks (its
loggers are finalized as "failed"): `trainer.fit` ends at once, no further batch is trained.

The callbacks subclass `lightning.pytorch.Callback` (the `lightning` package), or
`pytorch_lightning.Callback` when only the older `pytorch_lightning` package is installed; as in Ray, a
Trainer from the other package rejects them when both are installed. `pip install 'tunelab[lightning]'`.
"""
from __future__ import annotations

import os
from typing import Any

from tunelab.integrations._report import import_framework, normalize_hooks, normalize_metrics, report, select_metrics

__all__ = ["TuneReportCallback", "TuneReportCheckpointCallback"]

try:  # the base class: lightning's, else pytorch_lightning's; without either building a callback raises
    from lightning.pytorch import Callback as _Base
except ImportError:
    try:
        from pytorch_lightning import Callback as _Base  # type: ignore[assignment]
    except ImportError:
        _Base = object  # type: ignore[assignment,misc]

#: the hooks `on=` may name (Ray's names: Lightning's `on_<name>` callback hooks)
ALLOWED_HOOKS = (
    "fit_start", "fit_end", "sanity_check_start", "sanity_check_end", "train_epoch_start", "train_epoch_end",
    "validation_epoch_start", "validation_epoch_end", "test_epoch_start", "test_epoch_end", "train_batch_start",
    "train_batch_end", "validation_batch_start", "validation_batch_end", "test_batch_start", "test_batch_end",
    "train_start", "train_end", "validation_start", "validation_end", "test_start", "test_end", "exception",
)


def _hook(name: str) -> Any:
    def hook(self: "TuneReportCheckpointCallback", trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        if name in self._on:
            self._handle(trainer, pl_module)
    hook.__name__ = f"on_{name}"
    hook.__doc__ = f"Report (and checkpoint) when `on` names {name!r}."
    return hook


class TuneReportCheckpointCallback(_Base):
    """Report `trainer.callback_metrics` (with a Lightning checkpoint) on each of the `on` hooks.

    Args:
        metrics: what to report: None (every logged metric), one logged name, a list of them, or
            `{report name: logged name}`.
        filename: the checkpoint file's name inside the reported checkpoint folder.
        save_checkpoints: report a checkpoint with every result (False: metrics only).
        on: the hook, or list of hooks, to report on (see `ALLOWED_HOOKS`); nothing is reported while
            Lightning runs its sanity-check validation.
    """

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None, filename: str = "checkpoint",
                 save_checkpoints: bool = True, on: str | list[str] = "validation_end"):
        owner = type(self).__name__
        if _Base is object:
            import_framework("lightning.pytorch", "lightning", owner)  # raises the TuneError naming the extra
        self._owner = owner
        self._metrics = normalize_metrics(metrics, owner)
        self._filename = filename
        self._save_checkpoints = bool(save_checkpoints)
        self._on = normalize_hooks(on, ALLOWED_HOOKS, owner)

    def _result(self, trainer: Any) -> dict:
        logged = {name: value.item() if hasattr(value, "item") else value
                  for name, value in trainer.callback_metrics.items()}
        return select_metrics(logged, self._metrics, None, self._owner,
                              naming="the names the LightningModule passed to self.log")

    def _handle(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        result = self._result(trainer)
        if not result:  # nothing logged yet (as Ray: no empty report)
            return
        if not self._save_checkpoints:
            report(result)
            return

        def write(folder: str) -> None:
            trainer.save_checkpoint(os.path.join(folder, self._filename))

        report(result, write)


for _name in ALLOWED_HOOKS:  # every hook `on` may name, each reporting when named
    setattr(TuneReportCheckpointCallback, f"on_{_name}", _hook(_name))
del _name


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report `trainer.callback_metrics` on each of the `on` hooks, without checkpoints."""

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None,
                 on: str | list[str] = "validation_end"):
        super().__init__(metrics=metrics, save_checkpoints=False, on=on)
