"""HyperOpt's TPE search with asynchronous HyperBand (the seed's `hyperopt_example.py`).

`easy_objective` is a function trainable that reports a `mean_loss` computed in closed form from two
hyperparameters, `width` and `height` (the loss falls as `1 / (0.1 + width * step / 100)`, offset by
`height / 10`: the best configs have a large width and a very negative height). The search space is a
native hyperopt space. `HyperOptSearch` suggests at most 4 configs at a time and learns from every
finished trial; `AsyncHyperBandScheduler` stops unpromising trials early. Both maximise the seed's
`neg_mean_loss` (tunelab adds it to every result that has a `mean_loss`).

    python examples/hyperopt_example.py
    python examples/hyperopt_example.py --smoke-test    # 10 trials (used by the tests)
"""
import argparse

from hyperopt import hp

import tunelab as tune
from tunelab.schedulers import AsyncHyperBandScheduler
from tunelab.suggest import HyperOptSearch


def evaluation_fn(step, width, height):
    """The loss after `step` steps of training a config (width, height)."""
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def easy_objective(config, reporter):
    # a native hyperopt space gives choices by value, as tunelab's own domains do
    assert isinstance(config["activation"], str), f"config is incorrect: {config['activation']!r}"
    for step in range(config["iterations"]):
        reporter(timesteps_total=step, mean_loss=evaluation_fn(step, config["width"], config["height"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="10 trials")
    args = parser.parse_args()

    tune.register_trainable("exp", easy_objective)

    space = {
        "width": hp.uniform("width", 0, 20),
        "height": hp.uniform("height", -100, 100),
        "activation": hp.choice("activation", ["relu", "tanh"]),
    }
    config = {
        "my_exp": {
            "run": "exp",
            "num_samples": 10 if args.smoke_test else 100,
            "stop": {"training_iteration": 100},
            "config": {"iterations": 100},
        }
    }
    algo = HyperOptSearch(space, max_concurrent=4, reward_attr="neg_mean_loss", random_state_seed=0)
    scheduler = AsyncHyperBandScheduler(reward_attr="neg_mean_loss")
    trials = tune.run_experiments(config, search_alg=algo, scheduler=scheduler)

    best = min(trials, key=lambda t: t.last_result["mean_loss"])
    iterations = sum(t.last_result["training_iteration"] for t in trials)
    print(f"\n{len(trials)} trials, {iterations} iterations in all (ASHA stopped the others early; "
          f"{len(trials) * 100} without it)")
    print(f"Best config: {best.config}")
    print(f"Best result: mean_loss={best.last_result['mean_loss']:.4f} "
          f"after {best.last_result['training_iteration']} iterations")


if __name__ == "__main__":
    main()
