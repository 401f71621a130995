"""The README's demo: tune a small neural network (scikit-learn's MLP) on the `digits` dataset.

Sixteen configurations (a grid over four learning rates x random hidden-layer sizes and L2 penalties)
train in parallel worker processes, one epoch per report, until 40 epochs or 99% validation accuracy.

    python examples/quickstart_digits.py            # about a minute on 2 cores
    python examples/quickstart_digits.py --smoke-test
"""
import argparse

# the data and the trial (examples/digits_common.py, shared with asha_digits.py)
from digits_common import load_data, train_mlp

import tunelab as tune


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
