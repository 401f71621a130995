"""A driver for the storage tests, run as a subprocess (so it can be SIGKILLed):
`storage_driver.py <local_dir> <storage_path> <iterations> <resume>`.

Its function trainable reports a checkpoint every iteration and, in each result, the iteration it resumed
from (`resumed_from`: 0 for a fresh start), so a test can tell a restore from a restart."""
import sys
import time

import tunelab as tune


def train(config):
    checkpoint = tune.get_checkpoint()
    start = checkpoint.to_dict()["i"] if checkpoint else 0
    for i in range(start, config["iterations"]):
        time.sleep(config["sleep"])
        tune.report({"loss": config["x"] / (i + 1), "resumed_from": start},
                    checkpoint=tune.Checkpoint.from_dict({"i": i + 1}))


if __name__ == "__main__":
    local_dir, storage_path, iterations, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    analysis = tune.run(train, name="exp", local_dir=local_dir, storage_path=storage_path,
                        config={"x": tune.grid_search([1, 2, 3]), "iterations": iterations, "sleep": 0.03},
                        resume={"0": False, "1": True}[resume], keep_checkpoints_num=2, verbose=0)
    print("STATUSES", " ".join(t.status for t in analysis.trials))
