"""HyperBand on a synthetic learning curve (the seed's `hyperband_example.py`).

`MyTrainableClass` is a `Trainable` whose "reward" follows `tanh(iteration / width) * height` plus a
little noise: `height` sets how good a config ends up, `width` how slowly it gets there. HyperBand
(synchronous successive halving) pauses every trial of a bracket at its milestone, keeps the best third
and stops the rest, so it needs trainables that checkpoint: this one saves its step counter to a JSON file.

    python examples/hyperband_example.py
    python examples/hyperband_example.py --smoke-test    # 9 trials, max_t=9 (used by the tests)
"""
import argparse
import json
import os
import random

import numpy as np

import tunelab as tune
from tunelab.schedulers import HyperBandScheduler


class MyTrainableClass(tune.Trainable):
    """Example agent whose learning curve is a random tanh with a fixed shape (width, height)."""

    def _setup(self, config):
        self.timestep = 0

    def _train(self):
        self.timestep += 1
        v = np.tanh(float(self.timestep) / self.config["width"])
        v *= self.config["height"]
        v += random.gauss(0.0, 0.5)  # a little noise, so the ranking is not exact

        # `episode_reward_mean` is the seed's default objective; any key works (see reward_attr / metric)
        return {"episode_reward_mean": v, "timesteps_this_iter": 1}

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint.json")
        with open(path, "w") as f:
            f.write(json.dumps({"timestep": self.timestep}))
        return path

    def _restore(self, checkpoint_path):
        with open(checkpoint_path) as f:
            self.timestep = json.loads(f.read())["timestep"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="9 small trials, max_t=9")
    args = parser.parse_args()
    max_t = 9 if args.smoke_test else 100

    tune.register_trainable("my_class", MyTrainableClass)

    # HyperBand early stopping, with `episode_reward_mean` as the objective and `training_iteration` as
    # the time unit.
    hyperband = HyperBandScheduler(time_attr="training_iteration", reward_attr="episode_reward_mean", max_t=max_t)

    exp = tune.Experiment(
        name="hyperband_test",
        run="my_class",
        num_samples=9 if args.smoke_test else 20,
        stop={"training_iteration": max_t},
        config={
            "width": lambda spec: 10 + int(90 * random.random()),
            "height": lambda spec: int(100 * random.random()),
        },
    )
    trials = tune.run_experiments(exp, scheduler=hyperband)

    best = max(trials, key=lambda t: t.last_result["episode_reward_mean"])
    iterations = sum(t.last_result["training_iteration"] for t in trials)
    print(f"\n{len(trials)} trials, {iterations} iterations in all "
          f"(running every trial to max_t={max_t} would take {len(trials) * max_t})")
    print(f"Best config: {best.config}")
    print(f"Best result: episode_reward_mean={best.last_result['episode_reward_mean']:.2f} "
          f"after {best.last_result['training_iteration']} iterations")


if __name__ == "__main__":
    main()
