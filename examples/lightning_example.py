"""Ray Tune's PyTorch Lightning guide, run by tunelab: a LightningModule classifier tuned under ASHA.

MNIST cannot be downloaded here (no network), so the data is scikit-learn's bundled `digits` (8x8
handwritten digits, 10 classes) in a LightningDataModule. The module logs `ptl/val_loss` and
`ptl/val_accuracy`; `tunelab.integrations.pytorch_lightning.TuneReportCheckpointCallback` reports them at
the end of every validation run with a Lightning checkpoint, ASHA stops weak configurations in that
epoch, and a restarted trial resumes `trainer.fit(ckpt_path=...)` from its checkpoint.

    python examples/lightning_example.py
    python examples/lightning_example.py --smoke-test    # 4 trials of at most 5 epochs (used by the tests)
"""
import argparse
import os

import tunelab as tune
from tunelab import train
from tunelab.integrations.pytorch_lightning import TuneReportCheckpointCallback
from tunelab.schedulers import ASHAScheduler


def build(config):
    """The LightningModule and LightningDataModule classes (defined here so that lightning is imported
    in the trial, not when tunelab loads this script)."""
    import lightning.pytorch as pl
    import torch
    from torch.nn import functional as F

    class DigitsClassifier(pl.LightningModule):
        def __init__(self, config):
            super().__init__()
            self.lr = config["lr"]
            self.net = torch.nn.Sequential(
                torch.nn.Linear(64, config["layer_1_size"]), torch.nn.ReLU(),
                torch.nn.Linear(config["layer_1_size"], config["layer_2_size"]), torch.nn.ReLU(),
                torch.nn.Linear(config["layer_2_size"], 10))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.net(x)
            self.log("ptl/val_loss", F.cross_entropy(logits, y))
            self.log("ptl/val_accuracy", (logits.argmax(dim=1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    class DigitsDataModule(pl.LightningDataModule):
        def __init__(self, batch_size):
            super().__init__()
            self.batch_size = batch_size

        def setup(self, stage=None):
            from sklearn.datasets import load_digits
            from sklearn.model_selection import train_test_split

            digits = load_digits()
            x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
            y = torch.tensor(digits.target)
            x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, random_state=0)
            self.train_set = torch.utils.data.TensorDataset(x_train, y_train)
            self.val_set = torch.utils.data.TensorDataset(x_val, y_val)

        def train_dataloader(self):
            return torch.utils.data.DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

        def val_dataloader(self):
            return torch.utils.data.DataLoader(self.val_set, batch_size=256)

    return pl, DigitsClassifier(config), DigitsDataModule(config["batch_size"])


def train_digits(config):
    pl, model, data = build(config)
    trainer = pl.Trainer(
        max_epochs=config["num_epochs"], accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
        callbacks=[TuneReportCheckpointCallback({"loss": "ptl/val_loss", "mean_accuracy": "ptl/val_accuracy"},
                                                on="validation_end")])
    ckpt_path = None
    checkpoint = train.get_checkpoint()
    if checkpoint:  # restarted: Lightning restores weights, optimizer and epoch
        with checkpoint.as_directory() as checkpoint_dir:
            ckpt_path = os.path.join(checkpoint_dir, "checkpoint")
    trainer.fit(model, datamodule=data, ckpt_path=ckpt_path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="4 trials of at most 5 epochs")
    args = parser.parse_args()
    epochs, samples = (5, 4) if args.smoke_test else (20, 10)

    tuner = tune.Tuner(
        train_digits,
        param_space={
            "layer_1_size": tune.choice([32, 64, 128]),
            "layer_2_size": tune.choice([64, 128, 256]),
            "lr": tune.loguniform(1e-4, 1e-1),
            "batch_size": tune.choice([32, 64]),
            "num_epochs": epochs,
        },
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=samples,
                                    scheduler=ASHAScheduler(max_t=epochs, grace_period=1, reduction_factor=2)),
        run_config=train.RunConfig(name="lightning_digits", failure_config=train.FailureConfig(max_failures=1)),
    )
    results = tuner.fit()
    best = results.get_best_result()
    epochs_run = sum(r.metrics["training_iteration"] for r in results)
    print(f"{len(results)} trials, {epochs_run} epochs in all (of {samples * epochs})")
    print("Best hyperparameters found were: ", best.config)
    print(f"Best validation accuracy: {best.metrics['mean_accuracy']:.3f}")


if __name__ == "__main__":
    main()
