"""ExperimentAnalysis on a large experiment: load time and best-trial query times.

    python benchmarks/analysis.py                 # 10,000 real trivial trials (about a minute to create)
    python benchmarks/analysis.py --trials 2000

The experiment is made by tunelab itself (each trial reports 5 results), then read back from its folder
in a fresh `ExperimentAnalysis`, as a user would after the run. Targets: load <= 5 s, queries <= 0.1 s.
"""
import argparse
import statistics
import tempfile
import time

import tunelab as tune
from tunelab import ExperimentAnalysis


def trivial(config):
    for i in range(5):
        tune.report(score=config["x"] * (i + 1), loss=1.0 / (config["x"] + i + 1))


def timed(fn, repeats=5):
    times = []
    value = None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times[0], value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=10000)
    args = parser.parse_args()
    tune.init(num_cpus=2)
    local_dir = tempfile.mkdtemp()
    start = time.perf_counter()
    tune.run(trivial, name="big", local_dir=local_dir, config={"x": tune.uniform(0, 1)}, num_samples=args.trials,
             verbose=0)
    print(f"created {args.trials} trials in {time.perf_counter() - start:.1f} s")

    start = time.perf_counter()
    analysis = ExperimentAnalysis(f"{local_dir}/big")
    load = time.perf_counter() - start
    print(f"{'load from folder':<40} {load:8.3f} s   (target <= 5 s)")
    for label, fn in [
        ("get_best_trial(score, max) [last]", lambda: analysis.get_best_trial("score", "max")),
        ("best_config (loss, min)", lambda: analysis.get_best_config("loss", "min")),
        ("get_best_trial(score, max, scope=all)", lambda: analysis.get_best_trial("score", "max", scope="all")),
        ("get_best_trial(loss, min, last-5-avg)", lambda: analysis.get_best_trial("loss", "min", scope="last-5-avg")),
        ("dataframe()", lambda: analysis.dataframe()),
    ]:
        median, first, _ = timed(fn)
        print(f"{label:<40} first {first:8.4f} s, then median {median:8.4f} s   (target <= 0.1 s)")


if __name__ == "__main__":
    main()
