"""A Ray 2.x-style driver that test_tuner_api.py starts and SIGKILLs mid-run (only the imports changed)."""
import sys
import time

import tunelab as tune
from tunelab import train


def counter(config):
    checkpoint = train.get_checkpoint()
    start = checkpoint.to_dict()["i"] if checkpoint else 0
    for i in range(start + 1, config["n"] + 1):
        time.sleep(0.03)
        train.report({"i": i, "value": i * config["a"]}, checkpoint=train.Checkpoint.from_dict({"i": i}))


if __name__ == "__main__":
    storage_path, iterations = sys.argv[1], int(sys.argv[2])
    tuner = tune.Tuner(
        counter,
        param_space={"a": tune.grid_search([1, 2, 3]), "n": iterations},
        tune_config=tune.TuneConfig(metric="value", mode="max"),
        run_config=train.RunConfig(name="killed", storage_path=storage_path, verbose=0),
    )
    tuner.fit()
