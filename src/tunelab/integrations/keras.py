"""Keras 3 callbacks that report to tunelab from inside a trial (Ray 2.x's `ray.tune.integration.keras`).

```python
import os
os.environ.setdefault("KERAS_BACKEND", "torch")  # before `import keras`: any installed backend works
import keras
from tunelab.integrations.keras import TuneReportCheckpointCallback

def train(config):
    checkpoint = tunelab.get_checkpoint()
    model = TuneReportCheckpointCallback.get_model(checkpoint) if checkpoint else build_model(config)
    initial_epoch = TuneReportCheckpointCallback.get_initial_epoch(checkpoint)  # 0 without a checkpoint
    model.fit(x, y, validation_data=(xv, yv), epochs=10, initial_epoch=initial_epoch, verbose=0,
              callbacks=[TuneReportCheckpointCallback({"accuracy": "val_accuracy"})])
```

Each hook named in `on` (by default the end of every epoch) is one `tunelab.report` = one
`training_iteration`, with Keras' `logs` (`loss`, `val_loss`, the compiled metrics); for
`TuneReportCheckpointCallback` every `frequency`-th report also saves the whole model (weights and
optimizer state, `model.save`) as its checkpoint, with the number of epochs done. When tunelab ends the
trial (ASHA stops it, a stop criterion is met) the report raises a `BaseException` that Keras does not
catch: `model.fit` ends at once, no further batch is trained.

The backend is Keras' (`KERAS_BACKEND`, set before keras is first imported). With torch installed,
`KERAS_BACKEND=torch` needs no TensorFlow; Keras' default backend is tensorflow. `pip install
'tunelab[keras]'`.
"""
from __future__ import annotations

import json
import os
import types
from typing import Any

from tunelab.error import TuneError
from tunelab.integrations._report import model_file, normalize_hooks, normalize_metrics, report, select_metrics
from tunelab.storage.layout import KERAS_STATE_FILE

__all__ = ["ReportCheckpointCallback", "TuneReportCallback", "TuneReportCheckpointCallback"]

try:  # the base class, when keras imports with its configured backend; else building a callback raises
    from keras.callbacks import Callback as _Base

    _IMPORT_ERROR: ImportError | None = None
except ImportError as error:
    _Base = object
    _IMPORT_ERROR = error

#: the hooks `on=` may name (Ray's names: Keras' `on_<name>` callback methods)
ALLOWED_HOOKS = (
    "batch_begin", "batch_end", "epoch_begin", "epoch_end", "train_batch_begin", "train_batch_end",
    "test_batch_begin", "test_batch_end", "predict_batch_begin", "predict_batch_end", "train_begin", "train_end",
    "test_begin", "test_end", "predict_begin", "predict_end",
)
STATE_FILE = KERAS_STATE_FILE  # beside the model in a checkpoint: {"epoch": epochs done}


def _keras(owner: str) -> Any:
    if _IMPORT_ERROR is not None:
        raise TuneError(f"{owner} needs keras with an installed backend ({_IMPORT_ERROR}): pip install "
                        "'tunelab[keras]' and set KERAS_BACKEND (torch, jax or tensorflow) before importing keras")
    import keras

    return keras


def _number(value: Any) -> Any:
    """A log value as a Python number when it is a scalar (tensors at batch hooks), else unchanged."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _hook_handler(hook: str) -> Any:
    """The `on_<hook>` method that reports: epoch hooks get (epoch, logs), batch hooks (batch, logs), the
    others (logs)."""
    def handle(self: "TuneReportCheckpointCallback", *args: Any, logs: dict | None = None) -> None:
        if logs is None and args and isinstance(args[-1], dict):
            args, logs = args[:-1], args[-1]
        if hook.startswith("epoch") and args:
            self._epochs_done = int(args[0]) + (1 if hook == "epoch_end" else 0)
        self._handle(hook, logs or {})
    return handle


class TuneReportCheckpointCallback(_Base):
    """Report Keras' logs on each of the `on` hooks, with the model as a checkpoint every `frequency` reports.

    Args:
        metrics: what to report: None (every log entry), one log name (`"val_loss"`), a list of them, or
            `{report name: log name}`.
        filename: the model file's name inside the checkpoint folder; it must end in `.keras` (or `.h5`).
        frequency: checkpoint every this many reports of a hook (0: never); a list gives one per hook of `on`.
        on: the hook, or list of hooks, to report on (see `ALLOWED_HOOKS`).
    """

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None, filename: str = "model.keras",
                 frequency: int | list[int] = 1, on: str | list[str] = "epoch_end"):
        owner = type(self).__name__
        _keras(owner)
        super().__init__()
        self._owner = owner
        self._metrics = normalize_metrics(metrics, owner)
        self._on = normalize_hooks(on, ALLOWED_HOOKS, owner)
        if not filename.endswith((".keras", ".h5")):
            raise TuneError(f"{owner}: filename must end in .keras (or .h5), as keras' model.save needs, got {filename!r}")
        self._filename = filename
        self._frequency = self._frequencies(frequency)
        self._counts = dict.fromkeys(self._on, 0)
        for hook in self._on:  # only the named hooks are overridden: Keras skips work for the others
            # a method bound to this instance, so that copies of the callback (a deep-copied config) use their own
            setattr(self, f"on_{hook}", types.MethodType(_hook_handler(hook), self))

    def _frequencies(self, frequency: Any) -> dict[str, int]:
        values = frequency if isinstance(frequency, list) else [frequency] * len(self._on)
        if len(values) != len(self._on) or not all(isinstance(f, int) and not isinstance(f, bool) and f >= 0
                                                   for f in values):
            raise TuneError(f"{self._owner}: frequency must be an integer >= 0 (0: no checkpoints) or a list of them, "
                            f"one per hook in on={self._on!r}; got {frequency!r}")
        return dict(zip(self._on, values))

    @classmethod
    def get_model(cls, checkpoint: Any, filename: str = "model.keras") -> Any:
        """The Keras model saved in `checkpoint` (a tunelab.Checkpoint or its folder), compiled, with its
        optimizer state: training it goes on where the checkpoint left off."""
        keras = _keras(cls.__name__)
        return keras.models.load_model(model_file(checkpoint, filename, cls.__name__))

    @classmethod
    def get_initial_epoch(cls, checkpoint: Any) -> int:
        """The number of epochs done when `checkpoint` was saved (pass it as `model.fit(initial_epoch=)`);
        0 for None or a checkpoint saved outside epoch hooks."""
        if checkpoint is None:
            return 0
        folder = checkpoint if isinstance(checkpoint, (str, os.PathLike)) else checkpoint.path
        path = os.path.join(os.fspath(folder), STATE_FILE) if folder is not None else ""
        if not os.path.isfile(path):
            return 0
        with open(path) as f:
            return int(json.load(f)["epoch"])

    def _handle(self, hook: str, logs: dict) -> None:
        result = select_metrics({k: _number(v) for k, v in logs.items()}, self._metrics, None, self._owner,
                                naming="Keras' log names, e.g. 'loss', 'val_loss', 'val_accuracy'")
        self._counts[hook] += 1
        frequency = self._frequency[hook]
        if not frequency or self._counts[hook] % frequency:
            report(result)
            return
        model, epochs_done = self.model, getattr(self, "_epochs_done", None)

        def write(folder: str) -> None:
            model.save(os.path.join(folder, self._filename))
            if epochs_done is not None:
                with open(os.path.join(folder, STATE_FILE), "w") as f:
                    json.dump({"epoch": epochs_done}, f)

        report(result, write)


class TuneReportCallback(TuneReportCheckpointCallback):
    """Report Keras' logs on each of the `on` hooks, without checkpoints."""

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None, on: str | list[str] = "epoch_end"):
        super().__init__(metrics=metrics, frequency=0, on=on)


class ReportCheckpointCallback(TuneReportCheckpointCallback):
    """Ray 2.x's `ray.air.integrations.keras.ReportCheckpointCallback` (also `ray.train.tensorflow.keras`):
    report the logs on the `report_metrics_on` hooks and the model (`model.keras`) as checkpoint on the
    `checkpoint_on` hooks; a hook in both is one report with its checkpoint."""

    def __init__(self, checkpoint_on: str | list[str] = "epoch_end", report_metrics_on: str | list[str] = "epoch_end",
                 metrics: str | list[str] | dict[str, str] | None = None):
        owner = type(self).__name__
        checkpoint_hooks = normalize_hooks(checkpoint_on, ALLOWED_HOOKS, owner)
        report_hooks = normalize_hooks(report_metrics_on, ALLOWED_HOOKS, owner)
        on = list(dict.fromkeys(report_hooks + checkpoint_hooks))
        super().__init__(metrics=metrics, filename="model.keras", on=on,
                         frequency=[1 if hook in checkpoint_hooks else 0 for hook in on])
