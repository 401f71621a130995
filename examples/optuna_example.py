"""Optuna's TPE search over tunelab domains, with the modern `tune.run` call.

The same closed-form objective as `hyperopt_example.py`: a function trainable reports a `mean_loss`
that falls as `1 / (0.1 + width * step / 100)`, offset by `height / 10`. The space is written with
tunelab's own domains (`tune.uniform`, `tune.choice`), which every search algorithm understands;
`OptunaSearch` (seeded, so the run is reproducible when trials finish in the same order) minimises the
`mean_loss` that `tune.run(metric=..., mode=...)` hands it, 4 trials at a time, and the ASHA scheduler
stops unpromising trials early (Optuna hears of them as PRUNED).

    python examples/optuna_example.py
    python examples/optuna_example.py --smoke-test    # 10 trials (used by the tests)
"""
import argparse

import tunelab as tune
from tunelab.schedulers import ASHAScheduler
from tunelab.suggest import OptunaSearch


def evaluation_fn(step, width, height):
    """The loss after `step` steps of training a config (width, height)."""
    return (0.1 + width * step / 100) ** (-1) + height * 0.1


def easy_objective(config):
    for step in range(config["steps"]):
        score = evaluation_fn(step, config["width"], config["height"])
        tune.report(iterations=step, mean_loss=score)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="10 trials")
    args = parser.parse_args()

    analysis = tune.run(
        easy_objective,
        name="optuna_exp",
        metric="mean_loss",
        mode="min",
        search_alg=OptunaSearch(seed=0, max_concurrent=4),
        scheduler=ASHAScheduler(max_t=100, grace_period=10, reduction_factor=3),
        num_samples=10 if args.smoke_test else 100,
        config={
            "steps": 100,
            "width": tune.uniform(0, 20),
            "height": tune.uniform(-100, 100),
            "activation": tune.choice(["relu", "tanh"]),  # unused by the objective: shows a categorical
        },
    )

    result = analysis.best_result
    iterations = sum(t.last_result["training_iteration"] for t in analysis.trials)
    print(f"\n{len(analysis.trials)} trials, {iterations} iterations in all")
    print(f"Best config: {analysis.best_config}")
    print(f"Best result: mean_loss={result['mean_loss']:.4f} after {result['training_iteration']} iterations")


if __name__ == "__main__":
    main()
