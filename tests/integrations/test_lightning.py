"""PyTorch Lightning report callbacks in real tunelab runs: ASHA really stops `trainer.fit`, and a crashed
trial continues from the Lightning checkpoint it reported."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

import tunelab  # noqa: E402
from tunelab.error import TuneError  # noqa: E402
from tunelab.integrations.pytorch_lightning import TuneReportCallback, TuneReportCheckpointCallback  # noqa: E402
from tunelab.schedulers import ASHAScheduler  # noqa: E402

EPOCHS = 8


class TinyModel(pl.LightningModule):
    """Logistic regression on 64 separable points; `lr` decides how fast the loss falls."""

    def __init__(self, lr: float):
        super().__init__()
        self.lr = lr
        self.layer = torch.nn.Linear(4, 1)

    def _loss(self, batch):
        x, y = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(self.layer(x).squeeze(-1), y)

    def training_step(self, batch, batch_idx):
        return self._loss(batch)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loader():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    y = (x[:, 0] > 0).float()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)


class EpochCounter(pl.Callback):
    """Appends the number of each epoch really started to `epochs.txt` in the trial folder (the working
    directory); it runs before the tunelab callback, so an epoch started after a stop would show."""

    def on_train_epoch_start(self, trainer, pl_module):
        with open("epochs.txt", "a") as f:
            f.write(f"{trainer.current_epoch}\n")


def epochs_run(trial) -> list[int]:
    path = Path(trial.logdir, "epochs.txt")
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def make_trainer(*callbacks) -> pl.Trainer:
    return pl.Trainer(max_epochs=EPOCHS, callbacks=[EpochCounter(), *callbacks], logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=1, accelerator="cpu", devices=1)


def train_asha(config):
    trainer = make_trainer(TuneReportCheckpointCallback({"loss": "val_loss"}, on="validation_end"))
    trainer.fit(TinyModel(config["lr"]), loader(), loader())
    Path("finished").touch()  # only reached when Lightning trained every epoch


def test_asha_stops_training_at_once(tmp_path: Path) -> None:
    scheduler = ASHAScheduler(max_t=EPOCHS + 1, grace_period=2, reduction_factor=3)
    analysis = tunelab.run(train_asha, config={"lr": tunelab.grid_search([1.0, 0.8, 1e-4, 2e-4, 3e-4, 0.5])},
                           metric="loss", mode="min", scheduler=scheduler, local_dir=str(tmp_path), verbose=0)
    stopped = 0
    for trial in analysis.trials:
        iterations = trial.last_result["training_iteration"]
        epochs = epochs_run(trial)
        checkpoint = torch.load(os.path.join(trial.checkpoint.path, "checkpoint"), weights_only=False)
        assert checkpoint["epoch"] == iterations - 1  # the checkpoint of the last reported epoch
        if iterations < EPOCHS:  # ASHA stopped it: no epoch started after the stopping report
            stopped += 1
            assert epochs == list(range(iterations))
            assert not Path(trial.logdir, "finished").exists()
        else:
            assert epochs == list(range(EPOCHS)) and Path(trial.logdir, "finished").exists()
        assert [r["training_iteration"] for r in analysis.history(trial)] == list(range(1, iterations + 1))
    assert stopped >= 2
    assert analysis.best_config["lr"] >= 0.5


class CrashOnce(pl.Callback):
    """Fails the first attempt at the start of epoch `crash_at`, after the previous epoch's checkpoint."""

    def __init__(self, marker: str, crash_at: int):
        self.marker, self.crash_at = marker, crash_at

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.crash_at and not os.path.exists(self.marker):
            Path(self.marker).touch()
            raise RuntimeError("deliberate crash")


class EpochInResult(pl.Callback):
    """Logs the epoch number so that the report shows which epoch each result came from."""

    def on_validation_epoch_end(self, trainer, pl_module):
        pl_module.log("epoch_number", float(trainer.current_epoch))


def train_restorable(config):
    checkpoint = tunelab.get_checkpoint()
    ckpt_path = None
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            ckpt_path = os.path.join(folder, "model.ckpt")
    trainer = make_trainer(EpochInResult(), CrashOnce(config["marker"], 3),
                           TuneReportCheckpointCallback(["val_loss", "epoch_number"], filename="model.ckpt"))
    trainer.fit(TinyModel(0.5), loader(), loader(), ckpt_path=ckpt_path)


def test_crashed_trial_continues_from_its_lightning_checkpoint(tmp_path: Path) -> None:
    config = {"marker": str(tmp_path / "crashed")}
    analysis = tunelab.run(train_restorable, config=config, max_failures=1, local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    assert (tmp_path / "crashed").exists() and trial.status == "TERMINATED"
    # epochs 0-2, the crash at the start of epoch 3, then Lightning resumed at epoch 3: none ran twice
    assert epochs_run(trial) == [0, 1, 2, 3, 3, 4, 5, 6, 7]
    history = analysis.history(trial)
    assert [r["training_iteration"] for r in history] == list(range(1, EPOCHS + 1))
    assert [r["epoch_number"] for r in history] == [float(e) for e in range(EPOCHS)]
    final = torch.load(os.path.join(trial.checkpoint.path, "model.ckpt"), weights_only=False)
    assert final["epoch"] == EPOCHS - 1 and final["global_step"] == EPOCHS * 2


def train_plain(config):
    make_trainer(config["callback"]).fit(TinyModel(0.5), loader(), loader())


def test_report_callback_reports_without_checkpoints(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCallback("val_loss", on="train_epoch_end")},
                           local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    assert trial.checkpoint is None
    losses = [r["val_loss"] for r in analysis.history(trial)]
    assert len(losses) == EPOCHS and losses[-1] < losses[0]


def test_unknown_metric_is_a_tune_error(tmp_path: Path) -> None:
    analysis = tunelab.run(train_plain, config={"callback": TuneReportCallback({"loss": "val_los"})},
                           local_dir=str(tmp_path), verbose=0, raise_on_failed_trial=False)
    [trial] = analysis.trials
    assert trial.status == "ERROR"
    error = Path(trial.logdir, "error.txt").read_text()
    assert "'val_los' was not evaluated" in error and "val_loss" in error


def test_bad_arguments_are_tune_errors() -> None:
    with pytest.raises(TuneError, match="unknown hooks"):
        TuneReportCallback(on="epoch_end")
    with pytest.raises(TuneError, match="metrics must be"):
        TuneReportCheckpointCallback(metrics=3)
