"""The README's demo: tune a small neural network (scikit-learn's MLP) on the `digits` dataset.

Sixteen configurations (a grid over four learning rates x random hidden-layer sizes and L2 penalties)
train in parallel worker processes, one epoch per report, until 40 epochs or 99% validation accuracy.

    python examples/quickstart_digits.py            # about a minute on 2 cores
    python examples/quickstart_digits.py --smoke-test
"""
import argparse
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
    """One trial: train an MLP with `config`, report validation accuracy after every epoch."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_val, y_train, y_val = data
    model = MLPClassifier(hidden_layer_sizes=(config["hidden"],), learning_rate_init=config["lr"],
                          alpha=config["alpha"], batch_size=64, random_state=0)
    classes = np.unique(y_train)
    rng = np.random.default_rng(0)
    for _ in range(config["epochs"]):
        order = rng.permutation(len(x_train))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for start in range(0, len(order), 64):
                batch = order[start:start + 64]
                model.partial_fit(x_train[batch], y_train[batch], classes=classes)
        tune.report(mean_accuracy=float(model.score(x_val, y_val)), mean_loss=float(model.loss_))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="2 trials, 2 epochs")
    args = parser.parse_args()
    epochs = 2 if args.smoke_test else 40
    config = {
        "lr": tune.grid_search([0.0003, 0.001, 0.003, 0.01]) if not args.smoke_test else 0.01,
        "hidden": tune.choice([32, 64, 128, 256]),
        "alpha": tune.loguniform(1e-5, 1e-2),
        "epochs": epochs,
    }
    analysis = tune.run(
        tune.with_parameters(train_mlp, data=load_data()),
        name="digits_mlp",
        config=config,
        num_samples=2 if args.smoke_test else 4,
        stop={"mean_accuracy": 0.99, "training_iteration": epochs},
        metric="mean_accuracy",
        mode="max",
        verbose=1,
    )
    best = analysis.best_result
    print(f"\nBest config: {analysis.best_config}")
    print(f"Best validation accuracy: {best['mean_accuracy']:.4f} after {best['training_iteration']} epochs")
    print(f"Results: {analysis.trials[0].local_dir}")


if __name__ == "__main__":
    main()
