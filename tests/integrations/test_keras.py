"""Keras 3 report callbacks (torch backend) in real tunelab runs: ASHA really stops `model.fit`, and a
crashed trial continues from the model in its checkpoint."""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported; workers inherit it

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import tunelab  # noqa: E402
from tunelab.error import TuneError  # noqa: E402
from tunelab.integrations.keras import TuneReportCallback, TuneReportCheckpointCallback  # noqa: E402
from tunelab.schedulers import ASHAScheduler  # noqa: E402

EPOCHS = 8


def data():
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("float32")


def build_model(lr: float):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model


class EpochCounter(keras.callbacks.Callback):
    """Appends the number of each epoch really started to `epochs.txt` in the trial folder (the working
    directory); an epoch started after a stop would show."""

    def on_epoch_begin(self, epoch, logs=None):
        with open("epochs.txt", "a") as f:
            f.write(f"{epoch}\n")


def epochs_run(trial) -> list[int]:
    path = Path(trial.logdir, "epochs.txt")
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def train_asha(config):
    x, y = data()
    build_model(config["lr"]).fit(x, y, batch_size=32, epochs=EPOCHS, validation_data=(x, y), verbose=0,
                                  callbacks=[EpochCounter(), TuneReportCheckpointCallback({"loss": "val_loss"})])
    Path("finished").touch()  # only reached when Keras trained every epoch


def test_asha_stops_training_at_once(tmp_path: Path) -> None:
    scheduler = ASHAScheduler(max_t=EPOCHS + 1, grace_period=2, reduction_factor=3)
    analysis = tunelab.run(train_asha, config={"lr": tunelab.grid_search([1.0, 0.8, 1e-4, 2e-4, 3e-4, 0.5])},
                           metric="loss", mode="min", scheduler=scheduler, local_dir=str(tmp_path), verbose=0)
    stopped = 0
    for trial in analysis.trials:
        iterations = trial.last_result["training_iteration"]
        epochs = epochs_run(trial)
        assert TuneReportCheckpointCallback.get_initial_epoch(trial.checkpoint) == iterations
        if iterations < EPOCHS:  # ASHA stopped it: no epoch started after the stopping report
            stopped += 1
            assert epochs == list(range(iterations))
            assert not Path(trial.logdir, "finished").exists()
        else:
            assert epochs == list(range(EPOCHS)) and Path(trial.logdir, "finished").exists()
        assert [r["training_iteration"] for r in analysis.history(trial)] == list(range(1, iterations + 1))
    assert stopped >= 2
    assert analysis.best_config["lr"] >= 0.5


class CrashOnce(keras.callbacks.Callback):
    """Fails the first attempt at the start of epoch `crash_at`, after the previous epoch's checkpoint."""

    def __init__(self, marker: str, crash_at: int):
        super().__init__()
        self.marker, self.crash_at = marker, crash_at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.crash_at and not os.path.exists(self.marker):
            Path(self.marker).touch()
            raise RuntimeError("deliberate crash")


def train_restorable(config):
    x, y = data()
    checkpoint = tunelab.get_checkpoint()
    model = TuneReportCheckpointCallback.get_model(checkpoint, "net.keras") if checkpoint else build_model(0.5)
    initial_epoch = TuneReportCheckpointCallback.get_initial_epoch(checkpoint)
    callback = TuneReportCheckpointCallback(["val_loss", "accuracy"], filename="net.keras", frequency=1)
    model.fit(x, y, batch_size=32, epochs=EPOCHS, initial_epoch=initial_epoch, validation_data=(x, y), verbose=0,
              callbacks=[EpochCounter(), CrashOnce(config["marker"], 3), callback])


def test_crashed_trial_continues_from_its_keras_checkpoint(tmp_path: Path) -> None:
    config = {"marker": str(tmp_path / "crashed")}
    analysis = tunelab.run(train_restorable, config=config, max_failures=1, local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    assert (tmp_path / "crashed").exists() and trial.status == "TERMINATED"
    # epochs 0-2, the crash at the start of epoch 3, then fit resumed at epoch 3: none ran twice
    assert epochs_run(trial) == [0, 1, 2, 3, 3, 4, 5, 6, 7]
    history = analysis.history(trial)
    assert [r["training_iteration"] for r in history] == list(range(1, EPOCHS + 1))
    final = TuneReportCheckpointCallback.get_model(trial.checkpoint, "net.keras")
    assert int(final.optimizer.iterations) == EPOCHS * 2  # 2 batches an epoch: the restored optimizer went on
    assert TuneReportCheckpointCallback.get_initial_epoch(trial.checkpoint) == EPOCHS


def train_plain(config):
    x, y = data()
    build_model(0.5).fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[config["callback"]])


def test_report_callback_reports_every_log_without_checkpoints(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCallback()}, local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    assert trial.checkpoint is None
    history = analysis.history(trial)
    assert len(history) == 3 and all(0 <= r["accuracy"] <= 1 and r["loss"] > 0 for r in history)


def test_batch_hook_reports_every_batch(tmp_path: Path) -> None:
    callback = TuneReportCheckpointCallback("loss", on="train_batch_end", frequency=4)
    analysis = tunelab.run(train_plain, config={"callback": callback}, local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    history = analysis.history(trial)
    assert len(history) == 6 and all(isinstance(r["loss"], float) for r in history)  # 3 epochs of 2 batches
    assert trial.checkpoint is not None and os.path.basename(trial.checkpoint.path) == "checkpoint_4"


def test_bad_arguments_are_tune_errors() -> None:
    with pytest.raises(TuneError, match="unknown hooks"):
        TuneReportCallback(on="validation_end")
    with pytest.raises(TuneError, match="must end in .keras"):
        TuneReportCheckpointCallback(filename="checkpoint")
    with pytest.raises(TuneError, match="one per hook"):
        TuneReportCheckpointCallback(frequency=[1, 2])


def test_ray_air_report_checkpoint_callback(tmp_path: Path) -> None:
    """Ray 2.x's `ReportCheckpointCallback`: metrics every batch, the model at each epoch's end."""
    from tunelab.integrations.keras import ReportCheckpointCallback

    callback = ReportCheckpointCallback(checkpoint_on="epoch_end", report_metrics_on="train_batch_end",
                                        metrics={"mean_accuracy": "accuracy"})
    analysis = tunelab.run(train_plain, config={"callback": callback}, local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    history = analysis.history(trial)
    assert len(history) == 3 * 2 + 3 and all(0 <= r["mean_accuracy"] <= 1 for r in history)
    assert os.path.basename(trial.checkpoint.path) == "checkpoint_9"  # the third epoch's end
    assert TuneReportCheckpointCallback.get_initial_epoch(trial.checkpoint) == 3
    assert TuneReportCheckpointCallback.get_model(trial.checkpoint).count_params() == 5
