"""Shared by the digits examples (`quickstart_digits.py`, `asha_digits.py`): the data and one trial.

Not an example itself. The scripts import it from their own folder (a script's folder is on `sys.path`,
and tunelab's workers inherit the driver's path, so they can import it too).
"""
import pickle
import warnings

import numpy as np

import tunelab as tune


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.data / 16.0
    return train_test_split(x, digits.target, test_size=0.25, random_state=0)


def train_mlp(config, data):
    """One trial: train an MLP with `config`, report validation accuracy after every epoch.

    With `config["checkpoint"]` true, every report carries a checkpoint (the model and the shuffling
    state), and a trial that was paused or restarted continues from it, epoch for epoch as if it had not
    stopped. Schedulers that pause trials (promotion ASHA, HyperBand, PBT) need that.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_val, y_train, y_val = data
    model = MLPClassifier(hidden_layer_sizes=(config["hidden"],), learning_rate_init=config["lr"],
                          alpha=config["alpha"], batch_size=64, random_state=0)
    classes = np.unique(y_train)
    rng = np.random.default_rng(0)
    done_epochs = 0
    checkpointing = bool(config.get("checkpoint", False))
    if checkpointing and tune.get_checkpoint() is not None:
        state = pickle.loads(tune.get_checkpoint().to_dict()["state"])
        model, rng, done_epochs = state["model"], state["rng"], state["epoch"]
    for epoch in range(done_epochs, config["epochs"]):
        order = rng.permutation(len(x_train))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message=".*batch_size.*clipped")  # the last, short batch
            for start in range(0, len(order), 64):
                batch = order[start:start + 64]
                model.partial_fit(x_train[batch], y_train[batch], classes=classes)
        metrics = {"mean_accuracy": float(model.score(x_val, y_val)), "mean_loss": float(model.loss_)}
        if checkpointing:
            state = pickle.dumps({"model": model, "rng": rng, "epoch": epoch + 1})
            tune.report(metrics, checkpoint=tune.Checkpoint.from_dict({"state": state}))
        else:
            tune.report(metrics)
