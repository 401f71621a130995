"""Cost of handing a large numpy array to every trial: pinned (shared memory, memory-mapped) versus
captured in the trainable's closure (pickled into every worker).

    python benchmarks/shared_objects.py            # 800 MB array, 4 trials on 2 CPUs
    python benchmarks/shared_objects.py --mb 100   # smaller
"""
import argparse
import statistics
import tempfile
import time

import numpy as np

import tunelab as tune
from tunelab.util import get_pinned_object, pin_in_object_store


def _anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=800)
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    tune.init(num_cpus=2)
    array = np.random.random(args.mb * 1024 * 1024 // 8)
    out = tempfile.mkdtemp()

    start = time.perf_counter()
    handle = pin_in_object_store(array)
    pin_s = time.perf_counter() - start

    def pinned(config, reporter):
        before, t = _anon_mb(), time.perf_counter()
        x = get_pinned_object(handle)
        got = time.perf_counter() - t
        s = float(x[::4096].sum())
        reporter(get_s=got, anon_growth_mb=_anon_mb() - before, check=s)

    start = time.perf_counter()
    trials = tune.run_experiments({"pinned": {"run": pinned, "num_samples": args.trials, "local_dir": out}}, verbose=0)
    pinned_wall = time.perf_counter() - start

    def captured(config, reporter):
        before = _anon_mb()
        s = float(array[::4096].sum())
        reporter(anon_growth_mb=_anon_mb() - before, check=s)

    tune.shutdown()
    start = time.perf_counter()
    tune.run_experiments({"captured": {"run": captured, "num_samples": args.trials, "local_dir": out}}, verbose=0)
    captured_wall = time.perf_counter() - start

    get_ms = statistics.median(t.last_result["get_s"] for t in trials) * 1e3
    growth = statistics.median(t.last_result["anon_growth_mb"] for t in trials)
    print(f"array: {array.nbytes / 1e6:.0f} MB, {args.trials} trials on 2 CPUs")
    print(f"pin_in_object_store (once)          {pin_s * 1e3:8.0f} ms")
    print(f"get_pinned_object in a trial        {get_ms:8.2f} ms (median; no copy: private memory +{growth:.1f} MB)")
    print(f"experiment wall, pinned             {pinned_wall:8.2f} s")
    print(f"experiment wall, captured in closure {captured_wall:7.2f} s (array pickled and sent to each worker)")
    print(f"ratio captured/pinned               {captured_wall / pinned_wall:8.1f}x")


if __name__ == "__main__":
    main()
