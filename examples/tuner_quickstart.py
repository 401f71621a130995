"""A Ray 2.x Tuner script, run by tunelab: only the imports changed.

    from ray import tune, train              ->   import tunelab as tune
                                                  from tunelab import train

The function trainable trains a toy model (a noisy quadratic descent whose speed depends on `lr` and
`momentum`), reports `loss` every epoch with a checkpoint (`train.report(..., checkpoint=...)`), and
resumes from `train.get_checkpoint()` when it is restarted: after a crash (`FailureConfig`), a pause
by the scheduler, or `Tuner.restore` of an interrupted experiment. ASHA stops slow configurations early;
`CheckpointConfig(num_to_keep=2)` keeps the two best checkpoints of each trial (and the newest).

    python examples/tuner_quickstart.py
    python examples/tuner_quickstart.py --smoke-test    # 6 trials of at most 10 epochs (used by the tests)
"""
import argparse
import json
import os
import tempfile

import tunelab as tune
from tunelab import train
from tunelab.schedulers import ASHAScheduler


def train_model(config):
    """Gradient descent with momentum on f(w) = (w - 3)^2 from w = 0; the loss is f(w)."""
    state = {"epoch": 0, "w": 0.0, "velocity": 0.0}
    checkpoint = train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as checkpoint_dir, open(os.path.join(checkpoint_dir, "state.json")) as f:
            state = json.load(f)

    for epoch in range(state["epoch"] + 1, config["epochs"] + 1):
        gradient = 2 * (state["w"] - 3)
        state["velocity"] = config["momentum"] * state["velocity"] - config["lr"] * gradient
        state["w"] += state["velocity"]
        state["epoch"] = epoch
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "state.json"), "w") as f:
                json.dump(state, f)
            train.report({"loss": (state["w"] - 3) ** 2, "epoch": epoch},
                         checkpoint=train.Checkpoint.from_directory(tmp))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="6 trials of at most 10 epochs")
    args = parser.parse_args()
    epochs = 10 if args.smoke_test else 100

    tuner = tune.Tuner(
        train_model,
        param_space={
            "lr": tune.loguniform(1e-3, 1e-1),
            "momentum": tune.uniform(0.0, 0.9),
            "epochs": epochs,
        },
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=6 if args.smoke_test else 50,
            scheduler=ASHAScheduler(max_t=epochs, grace_period=2, reduction_factor=2),
        ),
        run_config=train.RunConfig(
            name="tuner_quickstart",
            failure_config=train.FailureConfig(max_failures=2),
            checkpoint_config=train.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="loss",
                                                     checkpoint_score_order="min"),
        ),
    )
    results = tuner.fit()

    best = results.get_best_result()
    print(f"\n{len(results)} trials: {results.num_terminated} terminated, {results.num_errors} errors")
    print(f"Best config: {json.dumps({k: best.config[k] for k in ('lr', 'momentum')})}")
    print(f"Best loss: {best.metrics['loss']:.6f} after {best.metrics['training_iteration']} epochs")
    with best.checkpoint.as_directory() as checkpoint_dir, open(os.path.join(checkpoint_dir, "state.json")) as f:
        print(f"Best checkpoint: epoch {json.load(f)['epoch']} in {best.checkpoint.path}")
    epochs_run = int(results.get_dataframe()["training_iteration"].sum())
    print(f"Epochs trained in all: {epochs_run} (a full search would train {len(results) * epochs})")
    print(f"Results in {results.experiment_path}; continue an interrupted run with "
          f"tune.Tuner.restore({results.experiment_path!r}, train_model).fit()")


if __name__ == "__main__":
    main()
