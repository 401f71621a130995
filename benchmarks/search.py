"""Search efficiency: simple regret after N evaluations, tunelab searchers against the native libraries.

For each closed-form problem with a known optimum (Branin, Hartmann6, 4-d Rosenbrock and a mixed
float/log/integer/categorical space) and each seed, this runs:

- random search: tunelab's BasicVariantGenerator over the tunelab domains;
- tunelab HyperOptSearch and OptunaSearch, driven through SearchGenerator exactly as the controller
  drives them (`next_trial` -> evaluate -> `on_trial_complete`), with 1 and with 4 concurrent trials
  (concurrency simulated in-process: up to 4 suggested-but-unfinished trials, the oldest completes first);
- the native loops with the same budgets and settings: hyperopt `fmin` with TPE (HyperOptSearch's
  `n_startup_jobs` and `gamma` defaults) and optuna `study.optimize` with TPESampler;
- for reference, hyperopt `fmin` with plain `tpe.suggest`: hyperopt's own defaults (20 start-up jobs,
  gamma=0.25), which HyperOptSearch does not use (its defaults are 10 and 1.0).

It prints the median simple regret (best value found - optimum) per problem, method and concurrency, and
the ratios tunelab/native and searcher/random, then checks the targets:
1. sequential tunelab searchers within 1.2x of the native libraries' median regret;
2. each tunelab searcher at most 0.5x random's regret on at least 3 of 4 problems;
3. with 4 concurrent trials, regret within 1.5x of sequential.

    python benchmarks/search.py            # 100 evaluations, 30 seeds (about 2.5 minutes on 2 cores)
    python benchmarks/search.py --quick    # 40 evaluations, 3 seeds
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from typing import Any

import numpy as np

from tunelab.experiment import Experiment
from tunelab.suggest import BasicVariantGenerator, HyperOptSearch, OptunaSearch, SearchGenerator
from tunelab.suggest.domains import choice, loguniform, randint, uniform
from tunelab.suggest.hyperopt import DEFAULT_GAMMA, DEFAULT_N_INITIAL_POINTS

# HyperOptSearch's defaults, given to the native fmin too so that tunelab/native compares like with like
N_STARTUP_HYPEROPT = DEFAULT_N_INITIAL_POINTS
GAMMA_HYPEROPT = DEFAULT_GAMMA
METHODS = ["random", "hyperopt", "hyperopt-native", "optuna", "optuna-native"]


# -- problems: (tunelab space, objective(config) -> value to minimise, optimum, native builders) ---------
def branin(c: dict) -> float:
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                 [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(c: dict) -> float:
    x = np.array([c[f"x{i}"] for i in range(6)])
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H_A * (x - _H_P) ** 2, axis=1))))


def rosenbrock4(c: dict) -> float:
    x = [c[f"x{i}"] for i in range(4)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


_KIND_COST = {"a": 1.0, "b": 0.6, "c": 0.0, "d": 0.3, "e": 0.8}


def mixed(c: dict) -> float:
    """Optimum 0 at x=0.3, lr=1e-3, n=7, kind="c"."""
    return (4 * (c["x"] - 0.3) ** 2 + (math.log10(c["lr"]) + 3) ** 2 / 4 + ((c["n"] - 7) / 5) ** 2
            + _KIND_COST[c["kind"]])


def _floats(names: list[str], low: float, high: float) -> dict:
    return {"tunelab": {n: uniform(low, high) for n in names},
            "hyperopt": lambda hp: {n: hp.uniform(n, low, high) for n in names},
            "optuna": lambda trial: {n: trial.suggest_float(n, low, high) for n in names}}


PROBLEMS: dict[str, dict[str, Any]] = {
    "branin": {"objective": branin, "optimum": 0.397887,
               "tunelab": {"x1": uniform(-5, 10), "x2": uniform(0, 15)},
               "hyperopt": lambda hp: {"x1": hp.uniform("x1", -5, 10), "x2": hp.uniform("x2", 0, 15)},
               "optuna": lambda t: {"x1": t.suggest_float("x1", -5, 10), "x2": t.suggest_float("x2", 0, 15)}},
    "hartmann6": {"objective": hartmann6, "optimum": -3.32237, **_floats([f"x{i}" for i in range(6)], 0.0, 1.0)},
    "rosenbrock4": {"objective": rosenbrock4, "optimum": 0.0, **_floats([f"x{i}" for i in range(4)], -2.048, 2.048)},
    "mixed": {"objective": mixed, "optimum": 0.0,
              "tunelab": {"x": uniform(0, 1), "lr": loguniform(1e-5, 1), "n": randint(0, 20),
                          "kind": choice(list(_KIND_COST))},
              "hyperopt": lambda hp: {"x": hp.uniform("x", 0, 1),
                                      "lr": hp.loguniform("lr", math.log(1e-5), math.log(1)),
                                      "n": hp.uniformint("n", 0, 19), "kind": hp.choice("kind", list(_KIND_COST))},
              "optuna": lambda t: {"x": t.suggest_float("x", 0, 1), "lr": t.suggest_float("lr", 1e-5, 1, log=True),
                                   "n": t.suggest_int("n", 0, 19),
                                   "kind": t.suggest_categorical("kind", list(_KIND_COST))}},
}


# -- one run: best value found after `budget` evaluations -------------------------------------------------
def _objective_trainable(config: dict) -> None:
    """Never run: the benchmark evaluates configs in-process."""


def _through_generator(search_alg: Any, problem: dict, budget: int, concurrency: int) -> float:
    """Drive a search algorithm the way the controller does, keeping `concurrency` trials outstanding."""
    experiment = Experiment("bench", _objective_trainable, config=problem["tunelab"], num_samples=budget)
    search_alg.add_configurations(experiment)
    objective, best, done = problem["objective"], math.inf, 0
    outstanding: deque = deque()
    while done < budget:
        while len(outstanding) < concurrency:
            trial = search_alg.next_trial()
            if trial is None:
                break
            outstanding.append(trial)
        if not outstanding:
            raise RuntimeError("the search algorithm stalled with no trial outstanding")
        trial = outstanding.popleft()
        value = objective(trial.config)
        best = min(best, value)
        search_alg.on_trial_complete(trial.trial_id, {"objective": value, "training_iteration": 1})
        done += 1
    return best


def run_one(problem_name: str, method: str, concurrency: int, seed: int, budget: int) -> float:
    """Simple regret of one (problem, method, concurrency, seed) run."""
    problem = PROBLEMS[problem_name]
    if method == "random":
        best = _through_generator(BasicVariantGenerator(random_state=seed), problem, budget, concurrency)
    elif method == "hyperopt":
        searcher = HyperOptSearch(metric="objective", mode="min", random_state_seed=seed,
                                  n_initial_points=N_STARTUP_HYPEROPT, gamma=GAMMA_HYPEROPT)
        best = _through_generator(SearchGenerator(searcher), problem, budget, concurrency)
    elif method == "optuna":
        searcher = OptunaSearch(metric="objective", mode="min", seed=seed)
        best = _through_generator(SearchGenerator(searcher), problem, budget, concurrency)
    elif method in ("hyperopt-native", "hyperopt-own-defaults"):
        from hyperopt import Trials, fmin, hp, tpe

        algo = tpe.suggest  # hyperopt's own defaults, for reference
        if method == "hyperopt-native":
            algo = partial(tpe.suggest, n_startup_jobs=N_STARTUP_HYPEROPT, gamma=GAMMA_HYPEROPT)
        trials = Trials()
        fmin(problem["objective"], problem["hyperopt"](hp), algo=algo,
             max_evals=budget, trials=trials, rstate=np.random.default_rng(seed), show_progressbar=False)
        best = min(trials.losses())
    elif method == "optuna-native":
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(lambda trial: problem["objective"](problem["optuna"](trial)), n_trials=budget)
        best = study.best_value
    else:
        raise ValueError(method)
    return best - problem["optimum"]


# -- the table -----------------------------------------------------------------------------------------
def _tasks(seeds: int) -> list[tuple[str, str, int, int]]:
    tasks = []
    for problem in PROBLEMS:
        for seed in range(seeds):
            tasks.append((problem, "random", 1, seed))
            tasks.append((problem, "hyperopt-native", 1, seed))
            tasks.append((problem, "hyperopt-own-defaults", 1, seed))
            tasks.append((problem, "optuna-native", 1, seed))
            for concurrency in (1, 4):
                tasks.append((problem, "hyperopt", concurrency, seed))
                tasks.append((problem, "optuna", concurrency, seed))
    return tasks


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.1e}"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    if b == 0:
        return 1.0 if a == 0 else math.inf
    return a / b


def report(medians: dict[tuple[str, str, int], float]) -> bool:
    """Print the table and the target checks; True when every target is met."""
    header = (f"{'problem':<12} {'conc':>4} | {'random':>9} {'hyperopt':>9} {'ho-native':>9} {'optuna':>9} "
              f"{'op-native':>9} | {'ho/nat':>6} {'op/nat':>6} {'ho/rand':>7} {'op/rand':>7} | {'ho c4/c1':>8} {'op c4/c1':>8}")
    print("\nMedian simple regret (lower is better)")
    print(header)
    print("-" * len(header))
    for problem in PROBLEMS:
        for concurrency in (1, 4):
            row = {m: medians.get((problem, m, concurrency)) for m in METHODS}
            row["random"] = medians[(problem, "random", 1)]
            cells = [_fmt(row[m]) for m in METHODS]
            native = concurrency == 1
            ratios = [
                _fmt(_ratio(row["hyperopt"], row["hyperopt-native"])) if native else "-",
                _fmt(_ratio(row["optuna"], row["optuna-native"])) if native else "-",
                _fmt(_ratio(row["hyperopt"], row["random"])), _fmt(_ratio(row["optuna"], row["random"])),
                _fmt(_ratio(row["hyperopt"], medians[(problem, "hyperopt", 1)])) if not native else "-",
                _fmt(_ratio(row["optuna"], medians[(problem, "optuna", 1)])) if not native else "-",
            ]
            print(f"{problem:<12} {concurrency:>4} | " + " ".join(f"{c:>9}" for c in cells)
                  + f" | {ratios[0]:>6} {ratios[1]:>6} {ratios[2]:>7} {ratios[3]:>7} | {ratios[4]:>8} {ratios[5]:>8}")

    print(f"\nReference, sequential: hyperopt fmin with hyperopt's own defaults (ho-own: tpe.suggest, 20 start-up "
          f"jobs, gamma=0.25)\nagainst HyperOptSearch's defaults ({N_STARTUP_HYPEROPT} start-up points, "
          f"gamma={GAMMA_HYPEROPT}), which ho-native uses too")
    print(f"{'problem':<12} | {'ho-own':>9} {'hyperopt':>9} | {'ho/ho-own':>9} {'ho-own/rand':>11}")
    for problem in PROBLEMS:
        own = medians.get((problem, "hyperopt-own-defaults", 1))
        ours = medians[(problem, "hyperopt", 1)]
        print(f"{problem:<12} | {_fmt(own):>9} {_fmt(ours):>9} | {_fmt(_ratio(ours, own)):>9} "
              f"{_fmt(_ratio(own, medians[(problem, 'random', 1)])):>11}")

    print("\nTargets")
    all_met = True
    for name in ("hyperopt", "optuna"):
        vs_native = {p: _ratio(medians[(p, name, 1)], medians[(p, f"{name}-native", 1)]) for p in PROBLEMS}
        vs_random = {p: _ratio(medians[(p, name, 1)], medians[(p, "random", 1)]) for p in PROBLEMS}
        c4 = {p: _ratio(medians[(p, name, 4)], medians[(p, name, 1)]) for p in PROBLEMS}
        checks = [
            ("sequential within 1.2x of native on every problem", all(r <= 1.2 for r in vs_native.values()), vs_native),
            ("<= 0.5x random on >= 3 of 4 problems", sum(r <= 0.5 for r in vs_random.values()) >= 3, vs_random),
            ("4 concurrent within 1.5x of sequential on every problem", all(r <= 1.5 for r in c4.values()), c4),
        ]
        for text, met, ratios in checks:
            all_met &= met
            detail = ", ".join(f"{p}={_fmt(r)}" for p, r in ratios.items())
            print(f"  [{'met' if met else 'MISSED'}] {name}: {text} ({detail})")
    return all_met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 evaluations and 3 seeds")
    parser.add_argument("--evals", type=int, default=None, help="evaluations per run (default 100)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per configuration (default 30)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    args = parser.parse_args(argv)
    budget = args.evals or (40 if args.quick else 100)
    seeds = args.seeds or (3 if args.quick else 30)
    tasks = _tasks(seeds)
    print(f"{len(tasks)} runs of {budget} evaluations ({seeds} seeds), {args.jobs} processes", flush=True)

    regrets: dict[tuple[str, str, int], list[float]] = {}
    start = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_one, p, m, c, s, budget): (p, m, c) for p, m, c, s in tasks}
        for done, future in enumerate(as_completed(futures), 1):
            regrets.setdefault(futures[future], []).append(future.result())
            if done % 20 == 0 or done == len(tasks):
                print(f"  {done}/{len(tasks)} runs done, {time.time() - start:.0f} s", flush=True)
    medians = {key: statistics.median(values) for key, values in regrets.items()}
    all_met = report(medians)
    print(f"\n{'all targets met' if all_met else 'some targets missed'}; {time.time() - start:.0f} s in total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
