"""Ray Train's Lightning recipe (the shape of Ray's "Using PyTorch Lightning with Tune" guide:
`TorchTrainer` + `ScalingConfig` + `ray.train.lightning` + `Tuner(trainer, param_space={"train_loop_config":
...})` under ASHA) on tunelab, and the rules of `TorchTrainer`/`ScalingConfig` for one process."""
from __future__ import annotations

import os

import pytest

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")

import tunelab as tune  # noqa: E402
from tunelab import train  # noqa: E402
from tunelab.error import TuneError  # noqa: E402
from tunelab.schedulers import ASHAScheduler  # noqa: E402
from tunelab.train import CheckpointConfig, RunConfig, ScalingConfig  # noqa: E402
from tunelab.train.lightning import (  # noqa: E402
    RayDDPStrategy,
    RayLightningEnvironment,
    RayTrainReportCallback,
    prepare_trainer,
)
from tunelab.train.torch import TorchTrainer  # noqa: E402

MAX_EPOCHS = 4


class Classifier(pl.LightningModule):
    def __init__(self, config):
        super().__init__()
        self.lr = config["lr"]
        self.net = torch.nn.Linear(4, 2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("ptl/train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("ptl/val_accuracy", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loader():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, (x[:, 0] > 0).long()), batch_size=16)


def train_func(config):
    trainer = pl.Trainer(devices="auto", accelerator="auto", strategy=RayDDPStrategy(),
                         callbacks=[RayTrainReportCallback()], plugins=[RayLightningEnvironment()],
                         enable_progress_bar=False, enable_model_summary=False, logger=False)
    trainer = prepare_trainer(trainer)
    trainer.fit(Classifier(config), train_dataloaders=loader(), val_dataloaders=loader())


def test_lightning_trainer_under_asha(tmp_path):
    trainer = TorchTrainer(
        train_func,
        scaling_config=ScalingConfig(num_workers=1, use_gpu=False, resources_per_worker={"CPU": 1}),
        run_config=RunConfig(storage_path=str(tmp_path), checkpoint_config=CheckpointConfig(
            num_to_keep=2, checkpoint_score_attribute="ptl/val_accuracy", checkpoint_score_order="max")))
    tuner = tune.Tuner(trainer, param_space={"train_loop_config": {"lr": tune.grid_search([1e-3, 0.3, 1.0])}},
                       tune_config=tune.TuneConfig(metric="ptl/val_accuracy", mode="max", scheduler=ASHAScheduler(
                           max_t=MAX_EPOCHS, grace_period=1, reduction_factor=2)))
    results = tuner.fit()
    assert not results.errors
    best = results.get_best_result(metric="ptl/val_accuracy", mode="max")
    assert set(best.config) == {"train_loop_config"}
    assert best.config["train_loop_config"]["lr"] in (0.3, 1.0)
    assert best.metrics["ptl/val_accuracy"] > 0.9
    assert best.metrics["epoch"] == best.metrics["training_iteration"] - 1  # one report per epoch
    assert os.path.basename(best.path).startswith("TorchTrainer_")
    assert os.path.isfile(os.path.join(best.checkpoint.path, RayTrainReportCallback.CHECKPOINT_NAME))
    assert len(best.best_checkpoints) <= 3  # num_to_keep=2, plus the newest one kept for resuming
    for result in results:  # ASHA's max_t stopped every trial's fit (Lightning's own limit is 1000 epochs)
        assert result.metrics["training_iteration"] <= MAX_EPOCHS


def test_trainer_fit_alone(tmp_path):
    def loop(config):
        for step in range(3):
            train.report({"score": config["a"] * step})

    trainer = TorchTrainer(loop, train_loop_config={"a": 2}, run_config=RunConfig(storage_path=str(tmp_path)))
    result = trainer.fit()
    assert result.metrics["score"] == 4
    assert result.config == {}


def test_trainer_without_config_argument(tmp_path):
    def loop():
        train.report({"done": 1})

    assert TorchTrainer(loop, run_config=RunConfig(storage_path=str(tmp_path))).fit().metrics["done"] == 1


def test_failed_trainer_fit_raises(tmp_path):
    def loop(config):
        raise ValueError("boom")

    with pytest.raises(TuneError, match="error"):
        TorchTrainer(loop, run_config=RunConfig(storage_path=str(tmp_path))).fit()


def test_rules():
    with pytest.raises(TuneError, match="multi-worker data-parallel training is not supported yet"):
        ScalingConfig(num_workers=3, use_gpu=True, resources_per_worker={"CPU": 1, "GPU": 1})
    with pytest.raises(TuneError, match="use_gpu=True"):
        ScalingConfig(resources_per_worker={"GPU": 1}).trial_resources()
    assert ScalingConfig(use_gpu=True, resources_per_worker={"CPU": 2}).trial_resources() == {"cpu": 2, "gpu": 1}
    with pytest.raises(TuneError, match="placement_strategy"):
        ScalingConfig(placement_strategy="SPREAD")
    with pytest.raises(TuneError, match="torch_config"):
        TorchTrainer(train_func, torch_config=object())
    with pytest.raises(TuneError, match="datasets"):
        TorchTrainer(train_func, datasets={"train": [1]})
    with pytest.raises(TuneError, match="no argument or one"):
        TorchTrainer(lambda a, b: None)
    with pytest.raises(TuneError, match="train_loop_config"):
        tune.Tuner(TorchTrainer(train_func), param_space={"lr": 0.1})
    with pytest.raises(TuneError, match="Trainer"):
        prepare_trainer(object())
