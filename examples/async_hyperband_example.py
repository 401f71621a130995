"""Asynchronous HyperBand (ASHA) on a synthetic learning curve (the seed's `async_hyperband_example.py`).

`MyTrainableClass` is a `Trainable` whose "reward" follows `tanh(iteration / width) * height` plus a
little noise. `AsyncHyperBandScheduler` records each trial's score when it passes a rung (iterations
5, 15, 45 with the seed's `grace_period=5, reduction_factor=3`) and stops it at once when it falls below
the top third recorded there: no trial waits for the others, so no worker sits idle. The default
(stopping) rule never pauses a trial, so the trainable need not checkpoint; it does anyway (a JSON file),
which `type="promotion"` (`--promotion`) needs.

    python examples/async_hyperband_example.py
    python examples/async_hyperband_example.py --promotion   # the ASHA paper's promotion rule
    python examples/async_hyperband_example.py --smoke-test  # 12 trials, max_t=45 (used by the tests)
"""
import argparse
import json
import os
import random

import numpy as np

import tunelab as tune
from tunelab.schedulers import AsyncHyperBandScheduler


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
    parser.add_argument("--smoke-test", action="store_true", help="12 small trials, max_t=45")
    parser.add_argument("--promotion", action="store_true", help='use type="promotion" (pauses and resumes trials)')
    args = parser.parse_args()
    max_t = 45 if args.smoke_test else 100

    tune.register_trainable("my_class", MyTrainableClass)

    # ASHA early stopping, with `episode_reward_mean` as the objective and `training_iteration` as the
    # time unit; the seed's settings (grace_period=5, reduction_factor=3, brackets=3).
    ahb = AsyncHyperBandScheduler(
        time_attr="training_iteration", reward_attr="episode_reward_mean", grace_period=5, max_t=max_t,
        reduction_factor=3, brackets=3, type="promotion" if args.promotion else "stopping", seed=0)

    trials = tune.run_experiments({
        "asynchyperband_test": {
            "run": "my_class",
            "stop": {"training_iteration": max_t},
            "num_samples": 12 if args.smoke_test else 20,
            "resources_per_trial": {"cpu": 1, "gpu": 0},
            "config": {
                "width": lambda spec: 10 + int(90 * random.random()),
                "height": lambda spec: int(100 * random.random()),
            },
        }
    }, scheduler=ahb)

    best = max(trials, key=lambda t: t.last_result["episode_reward_mean"])
    iterations = sum(t.last_result["training_iteration"] for t in trials)
    print(f"\n{len(trials)} trials, {iterations} iterations in all "
          f"(running every trial to max_t={max_t} would take {len(trials) * max_t})")
    print(f"Best config: {best.config}")
    print(f"Best result: episode_reward_mean={best.last_result['episode_reward_mean']:.2f} "
          f"after {best.last_result['training_iteration']} iterations")


if __name__ == "__main__":
    main()
