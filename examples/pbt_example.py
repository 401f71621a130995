"""Population Based Training on a toy problem whose best learning rate changes during training
(the seed's `pbt_example.py`).

`MyTrainableClass` "trains" an accuracy that grows fastest when its `lr` is close to an optimal learning
rate that depends on the accuracy reached so far: a triangle wave from 0.001 (accuracy 0) up to 0.01
(accuracy 100) and back down to 0.001 (accuracy 200). An `lr` more than 3x too high makes the accuracy
fall; more than 3x too low, it stalls. No fixed `lr` does well all the way, and every trial starts far too
low (`lr=0.0001`), so the population has to find the schedule: every 20 iterations, the bottom quarter
copies the checkpoint (a JSON file) of a top trial and perturbs its `lr` (x1.2 or x0.8, or resampled).
`reset_config` lets PBT change a running trial's config in place instead of starting a new process.

    python examples/pbt_example.py
    python examples/pbt_example.py --smoke-test    # 4 trials, 60 iterations (used by the tests)
"""
import argparse
import json
import os
import random

import numpy as np

import tunelab as tune
from tunelab.schedulers import PopulationBasedTraining


class MyTrainableClass(tune.Trainable):
    """Toy PBT problem for an adaptive learning rate: the accuracy increases fastest at the optimal lr,
    which is a function of the current accuracy."""

    def _setup(self, config):
        self.lr = config["lr"]
        self.accuracy = 0.0  # the trial is done at 200

    def _train(self):
        midpoint = 100  # the optimal lr goes up until accuracy 100, then down
        q_tolerance = 3  # an lr off by more than this factor does not help (too high: it hurts)
        noise_level = 2  # gaussian noise on every step

        # triangle wave: 0.001 at accuracy 0, 0.01 at the midpoint, 0.001 at twice the midpoint
        if self.accuracy < midpoint:
            optimal_lr = 0.01 * self.accuracy / midpoint
        else:
            optimal_lr = 0.01 - 0.01 * (self.accuracy - midpoint) / midpoint
        optimal_lr = min(0.01, max(0.001, optimal_lr))

        # how far `lr` is from the optimum, as a ratio >= 1
        q_err = max(self.lr, optimal_lr) / min(self.lr, optimal_lr)
        if q_err < q_tolerance:
            self.accuracy += (1.0 / q_err) * random.random()
        elif self.lr > optimal_lr:
            self.accuracy -= (q_err - q_tolerance) * random.random()
        self.accuracy += noise_level * np.random.normal()
        self.accuracy = max(0.0, self.accuracy)

        return {
            "mean_accuracy": self.accuracy,
            "cur_lr": self.lr,
            "optimal_lr": optimal_lr,  # for debugging
            "q_err": q_err,  # for debugging
            "done": self.accuracy > midpoint * 2,
        }

    def _save(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "checkpoint.json")
        with open(path, "w") as f:
            json.dump({"accuracy": self.accuracy, "lr": self.lr}, f)
        return path

    def _restore(self, checkpoint_path):
        # the lr comes from the (perturbed) config, not from the checkpoint of the trial that was copied
        with open(checkpoint_path) as f:
            self.accuracy = json.load(f)["accuracy"]

    def reset_config(self, new_config):
        self.lr = new_config["lr"]
        self.config = new_config
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="4 trials, 60 iterations")
    args = parser.parse_args()

    pbt = PopulationBasedTraining(
        time_attr="training_iteration",
        metric="mean_accuracy",
        mode="max",
        perturbation_interval=10 if args.smoke_test else 20,
        hyperparam_mutations={
            # scaled by 1.2 or 0.8, or resampled from this distribution
            "lr": lambda: random.uniform(0.0001, 0.02),
            # moved to a neighbouring value of this list
            "some_other_factor": [1, 2],
        },
        seed=0,
    )

    analysis = tune.run(
        MyTrainableClass,
        name="pbt_test",
        scheduler=pbt,
        metric="mean_accuracy",
        mode="max",
        stop={"training_iteration": 60 if args.smoke_test else 2000},
        num_samples=4,
        config={"lr": 0.0001, "some_other_factor": 1},
        verbose=1,
    )

    best = analysis.best_trial
    result = analysis.best_result
    print(f"\n{len(pbt.exploit_log)} exploits (a trial copied a better one and perturbed its config)")
    print("lr schedule of the best trial (iteration: lr, optimal lr):")
    for row in analysis.history(best)[::max(1, len(analysis.history(best)) // 10)]:
        print(f"  {row['training_iteration']:5d}: lr={row['cur_lr']:.5f}  optimal={row['optimal_lr']:.5f}  "
              f"accuracy={row['mean_accuracy']:.1f}")
    print(f"Best config: {analysis.best_config}")
    print(f"Best result: mean_accuracy={result['mean_accuracy']:.1f} after {result['training_iteration']} iterations"
          f"{' (done: reached 200)' if result.get('done') and result['mean_accuracy'] > 200 else ''}")


if __name__ == "__main__":
    main()
