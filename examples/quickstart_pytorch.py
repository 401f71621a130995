"""The seed's quick start, with PyTorch: a grid search over `lr` x `momentum` for a small network on
scikit-learn's `digits`, written exactly as a 2018 Ray Tune script (only the import changed).

    python examples/quickstart_pytorch.py
    python examples/quickstart_pytorch.py --smoke-test   # 2 trials, a few batches (used by the tests)
"""
import argparse

import tunelab as tune  # was: import ray.tune as tune

SMOKE = {"enabled": False}


def train_func(config, reporter):  # add a reporter arg
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    digits = load_digits()
    data = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    target = torch.tensor(digits.target)
    train_x, test_x, train_y, test_y = data[:1400], data[1400:], target[:1400], target[1400:]

    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    batches = config.get("batches", 300)
    for idx in range(batches):
        rows = torch.randint(0, len(train_x), (32,))
        optimizer.zero_grad()
        loss = F.cross_entropy(model(train_x[rows]), train_y[rows])
        loss.backward()
        optimizer.step()
        if idx % 10 == 9:
            with torch.no_grad():
                accuracy = (model(test_x).argmax(1) == test_y).float().mean().item() * 100
            reporter(timesteps_total=idx, mean_accuracy=accuracy)  # report metrics


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke-test", action="store_true")
    args = parser.parse_args()

    tune.register_trainable("train_func", train_func)
    config = {
        "lr": tune.grid_search([0.2, 0.4, 0.6]),
        "momentum": tune.grid_search([0.1, 0.2]),
    }
    if args.smoke_test:
        config = {"lr": tune.grid_search([0.2, 0.4]), "momentum": 0.1, "batches": 20}
    all_trials = tune.run_experiments({
        "my_experiment": {
            "run": "train_func",
            "stop": {"mean_accuracy": 99},
            "config": config,
        }
    })
    for trial in all_trials:
        print(trial, trial.status, f"{trial.last_result['mean_accuracy']:.1f}% acc")


if __name__ == "__main__":
    main()
