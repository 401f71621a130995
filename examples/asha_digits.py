"""A real run of ASHA against random search: the digits MLP of `quickstart_digits.py`, on 2 CPUs.

A fixed pool of 27 configurations (learning rate, hidden units, L2 penalty), drawn once with a fixed
seed, is trained three times, one epoch per report, up to 30 epochs:

  (a) full random search: FIFO, every configuration trained to 30 epochs;
  (b) ASHA, the seed's stopping rule: `AsyncHyperBandScheduler(max_t=30, grace_period=1,
      reduction_factor=3, brackets=1)` stops a trial at rungs 1, 3, 9 and 27 epochs when it is not in the top third;
  (c) ASHA with `type="promotion"` (the ASHA paper's rule): trials pause at every rung and only the top
      third are resumed, from a checkpoint of the model taken every epoch.

It prints, for each run, the best validation accuracy, the epochs it used (the sum of the trials'
`training_iteration`) and the wall time, then says whether each ASHA run found a configuration within 1
accuracy point of the full search's best using at most a third of its epochs. Training is deterministic
(fixed seeds), so a configuration's learning curve is the same in every run; the script checks that too.
It is a benchmark, not a test: it exits 0 whatever the verdict.

    python examples/asha_digits.py                  # about 1-2 minutes on 2 cores
    python examples/asha_digits.py --smoke-test     # 6 configurations, 4 epochs (used by the tests)
"""
import argparse
import collections
import math
import random
import time

# the data and the trial of quickstart_digits.py (examples/digits_common.py)
from digits_common import load_data, train_mlp

import tunelab as tune
from tunelab.schedulers import AsyncHyperBandScheduler, FIFOScheduler
from tunelab.suggest import BasicVariantGenerator


def draw_configs(n, seed=0):
    """The fixed pool: `n` configurations drawn once, the same on every run of the script."""
    rng = random.Random(seed)
    return [{"lr": round(10 ** rng.uniform(-4, -1), 6),
             "hidden": rng.choice([16, 32, 64, 128, 256]),
             "alpha": round(10 ** rng.uniform(-6, -1), 8)} for _ in range(n)]


def key(config):
    """A configuration of the pool as a hashable tuple."""
    return config["lr"], config["hidden"], config["alpha"]


class CountResults(tune.Callback):
    """Counts the results the driver receives: every epoch trained, including any a trial trains again
    after it resumed without a checkpoint (the trial's history on disk keeps only the last copy)."""

    def __init__(self):
        self.results = 0

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.results += 1


def run_pool(trainable, configs, epochs, scheduler, label, checkpoint=False):
    """Train every configuration of the pool under `scheduler`; return a summary of the run."""
    counter = CountResults()
    start = time.time()
    analysis = tune.run(
        trainable,
        name=f"asha_digits_{label}",
        config={"epochs": epochs, "checkpoint": checkpoint},
        search_alg=BasicVariantGenerator(points_to_evaluate=[dict(c) for c in configs]),
        num_samples=len(configs),
        stop={"training_iteration": epochs},
        metric="mean_accuracy",
        mode="max",
        scheduler=scheduler,
        callbacks=[counter],
        verbose=0,
    )
    wall = time.time() - start
    trials = analysis.trials
    curves = {key(t.config): [row["mean_accuracy"] for row in analysis.history(t)] for t in trials}
    best = analysis.best_result
    return {
        "label": label,
        "trials": trials,
        "statuses": collections.Counter(t.status for t in trials),
        "best_acc": best["mean_accuracy"],
        "best_epochs": best["training_iteration"],
        "best_config": {k: analysis.best_config[k] for k in ("lr", "hidden", "alpha")},
        "epochs": sum(t.last_result["training_iteration"] for t in trials),  # the budget as ASHA counts it
        "epochs_run": counter.results,  # epochs actually trained
        "trained": {key(t.config): t.last_result["training_iteration"] for t in trials},
        "curves": curves,
        "wall": wall,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="6 configurations, 4 epochs")
    parser.add_argument("--num-configs", type=int, default=27)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--grace-period", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the pool of configurations")
    parser.add_argument("--no-checkpoint", action="store_true",
                        help="promotion ASHA without checkpoints: a promoted trial then trains again from scratch")
    args = parser.parse_args()
    n, epochs = (6, 4) if args.smoke_test else (args.num_configs, args.epochs)
    rf = 3

    tune.init(num_cpus=2)
    configs = draw_configs(n, args.seed)
    trainable = tune.with_parameters(train_mlp, data=load_data())  # the data is shared once, not per trial

    def asha(kind):
        return AsyncHyperBandScheduler(time_attr="training_iteration", max_t=epochs, grace_period=args.grace_period,
                                       reduction_factor=rf, brackets=1, type=kind, seed=0)

    runs = []
    print(f"{n} configurations x up to {epochs} epochs, 2 CPUs")
    for label, scheduler, checkpoint in (
        ("full_search", FIFOScheduler(), False),
        ("asha_stopping", asha("stopping"), False),
        ("asha_promotion", asha("promotion"), not args.no_checkpoint),
    ):
        print(f"running {label} ...", flush=True)
        runs.append(run_pool(trainable, configs, epochs, scheduler, label, checkpoint))
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(runs[-1]["statuses"].items()))
        print(f"  {len(runs[-1]['trials'])} trials ({statuses}) in {runs[-1]['wall']:.1f} s")
    full = runs[0]
    final_acc = {k: c[-1] for k, c in full["curves"].items()}  # every config's accuracy after `epochs`
    ranking = sorted(final_acc, key=lambda k: -final_acc[k])

    print(f"\nThe pool, best first (full-search accuracy after {epochs} epochs; epochs each ASHA run gave it):")
    print(f"  {'#':>3} {'lr':>9} {'hidden':>6} {'alpha':>10} | {'acc':>6} | {'stopping':>8} {'promotion':>9}")
    for rank, k in enumerate(ranking, 1):
        print(f"  {rank:>3} {k[0]:>9.6f} {k[1]:>6} {k[2]:>10.2e} | {final_acc[k]:>6.4f} | "
              f"{runs[1]['trained'][k]:>8} {runs[2]['trained'][k]:>9}")

    header = (f"{'run':<16} {'best acc':>8} {'at epoch':>8} {'rank':>5} {'epochs':>7} {'vs full':>7} "
              f"{'results':>7} {'stopped early':>13} {'wall s':>7}")
    print("\n" + header)
    print("-" * len(header))
    for run in runs:
        early = sum(1 for e in run["trained"].values() if e < epochs)
        rank = 1 + sum(acc > final_acc[key(run["best_config"])] for acc in final_acc.values())  # ties share a rank
        print(f"{run['label']:<16} {run['best_acc']:>8.4f} {run['best_epochs']:>8} {rank:>5} {run['epochs']:>7} "
              f"{run['epochs'] / full['epochs']:>6.2f}x {run['epochs_run']:>7} {early:>13} {run['wall']:>7.1f}")
    print("(epochs: the sum of the trials' training_iteration; results: the results the driver received, more\n"
          " than epochs only if a trial trained epochs again after a resume; rank: the best config's rank in the\n"
          " full search, by accuracy after the last epoch)")

    print(f"\nFull search: best accuracy {full['best_acc']:.4f} with {full['best_config']}, {full['epochs']} epochs")
    for run in runs[1:]:
        gap = full["best_acc"] - run["best_acc"]
        close = gap <= 0.01 + 1e-12
        used = run["epochs_run"]  # epochs trained, any trained again included (= epochs when none were)
        cheap = used <= math.floor(full["epochs_run"] / 3)
        same = all(c == full["curves"][k][:len(c)] for k, c in run["curves"].items())
        verdict = "YES" if close and cheap else "NO"
        relation = ("equal to" if abs(gap) < 1e-9 else
                    f"{abs(gap) * 100:.2f} points {'below' if gap > 0 else 'above'}")
        print(f"{run['label']}: best {run['best_acc']:.4f} ({relation} the full search's best: "
              f"{'within' if close else 'NOT within'} 1 point), {used} epochs = "
              f"{used / full['epochs_run']:.2f}x the full search ({'<=' if cheap else '>'} 1/3) -> {verdict}")
        if not same:
            print(f"  note: {run['label']}: some learning curves differ from the full search's")
    print("\nAll trials TERMINATED" if all(set(r["statuses"]) == {"TERMINATED"} for r in runs)
          else "\nSome trials did not terminate: " + "; ".join(f"{r['label']}: {dict(r['statuses'])}" for r in runs))


if __name__ == "__main__":
    main()
