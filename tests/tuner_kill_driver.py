"""A Ray 2.x-style driver that test_tuner_api.py starts and SIGKILLs mid-run (only the imports changed)."""
import json
import os
import sys
import tempfile
import time

import tunelab as tune
from tunelab import train


def counter(config):
    start = 0
    checkpoint = train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as checkpoint_dir, open(os.path.join(checkpoint_dir, "i.json")) as f:
            start = json.load(f)["i"]
    with open(os.path.join(train.get_context().get_trial_dir(), "starts.txt"), "a") as f:
        f.write(f"{start}\n")
    for i in range(start + 1, config["n"] + 1):
        time.sleep(0.03)
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "i.json"), "w") as f:
                json.dump({"i": i}, f)
            train.report({"i": i, "value": i * config["a"]}, checkpoint=train.Checkpoint.from_directory(tmp))


if __name__ == "__main__":
    storage_path, iterations = sys.argv[1], int(sys.argv[2])
    tuner = tune.Tuner(
        counter,
        param_space={"a": tune.grid_search([1, 2, 3]), "n": iterations},
        tune_config=tune.TuneConfig(metric="value", mode="max"),
        run_config=train.RunConfig(name="killed", storage_path=storage_path, verbose=0),
    )
    tuner.fit()
