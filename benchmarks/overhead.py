"""tunelab's framework overhead, as medians over repeats, each workload in a fresh process.

    python benchmarks/overhead.py            # tunelab only
    python benchmarks/overhead.py --peers    # also Ray Tune and Optuna when installed, with ratios
    python benchmarks/overhead.py --quick    # fewer repeats and smaller workloads
    python benchmarks/overhead.py --ray-executor   # also tunelab's Ray executor (trials as Ray actors)
    python benchmarks/overhead.py --dashboard      # per-report overhead with the server on and a page polling
    python benchmarks/overhead.py --storage s3     # per-report overhead with storage_path on an S3 server (moto,
                                                   # on 127.0.0.1) vs off, and checkpoint upload/download MB/s
    python benchmarks/overhead.py --storage local  # the same with storage_path a local folder
    python benchmarks/overhead.py --storage s3 --storage-only   # only the storage figures

Figures: import time; process start to first result of a one-trial experiment; per-report overhead (one
trial reporting 20,000 results, timed inside the trial between its first and last report); per-trial
overhead (1,000 trivial trials on 2 CPUs); 10,000 trivial trials (wall time and driver peak RSS).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)


# -- workloads (each runs in its own process; prints one JSON line) ---------------------------------
def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def w_import(_: argparse.Namespace) -> dict:
    start = time.perf_counter()
    import tunelab  # noqa: F401

    return {"seconds": time.perf_counter() - start}


def w_first_result(args: argparse.Namespace) -> dict:
    import tunelab as tune

    class FirstResult(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "first" not in found:
                found["first"] = time.time()

    found: dict = {}

    def trivial(config):
        tune.report(x=1)

    tune.run(trivial, verbose=0, callbacks=[FirstResult()], local_dir=args.dir)
    return {"first_result_at": found["first"]}


def w_per_report(args: argparse.Namespace) -> dict:
    import tunelab as tune

    n = args.n

    def reporter_loop(config):
        import time

        first = None
        for i in range(n):
            if i == 1:
                first = time.perf_counter()
            tune.report(i=i)
            if i == n - 1:
                tune.report(i=i, span=time.perf_counter() - first)

    served: dict = {}
    poller = None
    if args.poll_ms:  # the server on (-1: nobody asks), or a client in another process polls as the page does
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        served = {"with_server": True, "server_port": port}
        poller = None if args.poll_ms < 0 else subprocess.Popen([sys.executable, HERE, "--workload", "poller", "--n", str(port),
                                   "--reports", str(args.poll_ms)])
    if args.storage_path:
        served["storage_path"] = args.storage_path
    try:
        analysis = tune.run(reporter_loop, verbose=0, local_dir=args.dir, **served)
    finally:
        if poller is not None:
            poller.terminate()
            poller.wait()
    result = analysis.trials[0].last_result
    return {"us_per_report": result["span"] / (n - 1) * 1e6, "reports": result["training_iteration"]}


def w_storage_throughput(args: argparse.Namespace) -> dict:
    """Storage.put_dir / get_dir of a checkpoint folder of `--n` MB (10 files of random bytes, as a model's
    shards would be) to and from `--storage-path`: what a worker pays to upload a checkpoint and to fetch one."""
    import uuid

    from tunelab.storage.remote import Storage

    source = os.path.join(args.dir, "checkpoint_1")
    os.makedirs(source)
    size = args.n * 1024 * 1024
    for i in range(10):
        with open(os.path.join(source, f"shard_{i}.bin"), "wb") as f:
            f.write(os.urandom(size // 10))
    storage = Storage(args.storage_path).child(f"bench-{uuid.uuid4().hex[:8]}")
    storage.check("benchmark")  # the connection is made before the clock
    start = time.perf_counter()
    uploaded = storage.put_dir(source, "checkpoint_1")
    up = time.perf_counter() - start
    start = time.perf_counter()
    downloaded = storage.get_dir("checkpoint_1", os.path.join(args.dir, "fetched"))
    down = time.perf_counter() - start
    assert uploaded == downloaded == size // 10 * 10
    storage.delete("")
    mb = uploaded / 1024 / 1024
    return {"upload_mb_s": mb / up, "download_mb_s": mb / down, "mb": mb}


def w_poller(args: argparse.Namespace) -> dict:
    """What the dashboard page asks (GET /trials every poll; the chosen trials' curves and best-so-far every
    5th poll; parameter importance every 10th) against the server on port `--n`, every `--reports` ms
    (1 = as fast as it answers), until terminated."""
    import http.client

    port, interval = args.n, args.reports / 1000.0
    polls = 0
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            paths = ["/trials"]
            conn.request("GET", "/trials")
            trials = json.loads(conn.getresponse().read())["trials"]
            if polls % 5 == 0:
                paths += [f"/trials/{t['id']}/results" for t in trials[:5]] + ["/best?metric=i&mode=max"]
            if polls % 10 == 0:
                paths.append("/importance?metric=i&mode=max")
            for path in paths[1:]:
                conn.request("GET", path)
                conn.getresponse().read()
            conn.close()
            polls += 1
        except (OSError, ValueError, KeyError):
            pass  # not listening yet, or gone
        time.sleep(interval if interval > 0.001 else 0)


def w_per_trial(args: argparse.Namespace) -> dict:
    import tunelab as tune

    tune.init(num_cpus=2)
    tune.api.get_executor()  # start the executor (for executor="ray": Ray itself) before the clock

    def trivial(config):
        tune.report(x=config["i"])

    start = time.perf_counter()
    analysis = tune.run(trivial, config={"i": tune.grid_search(list(range(args.n)))}, verbose=0, local_dir=args.dir)
    wall = time.perf_counter() - start
    assert len(analysis.trials) == args.n and all(t.status == "TERMINATED" for t in analysis.trials)
    return {"ms_per_trial": wall / args.n * 1e3, "wall_s": wall, "peak_rss_mb": _peak_rss_mb()}


def w_ray_per_trial(args: argparse.Namespace) -> dict:
    import ray
    from ray import tune

    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)

    def trivial(config):
        tune.report({"x": config["i"]})

    start = time.perf_counter()
    tune.run(trivial, config={"i": tune.grid_search(list(range(args.n)))}, verbose=0, storage_path=args.dir)
    return {"ms_per_trial": (time.perf_counter() - start) / args.n * 1e3}


def w_ray_per_report(args: argparse.Namespace) -> dict:
    import ray
    from ray import tune

    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
    n = args.n

    def loop(config):
        start = time.perf_counter()
        for i in range(n):
            tune.report({"i": i, "span": time.perf_counter() - start})

    analysis = tune.run(loop, verbose=0, storage_path=args.dir)
    return {"us_per_report": analysis.trials[0].last_result["span"] / n * 1e6}


def w_optuna(args: argparse.Namespace) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=args.n)
    per_trial = (time.perf_counter() - start) / args.n * 1e3

    def reporting(trial):
        for i in range(args.reports):
            trial.report(float(i), i)
        return 0.0

    study = optuna.create_study()
    start = time.perf_counter()
    study.optimize(reporting, n_trials=1)
    return {"ms_per_trial": per_trial, "us_per_report": (time.perf_counter() - start) / args.reports * 1e6}


WORKLOADS = {name[2:]: fn for name, fn in globals().items() if name.startswith("w_")}


# -- driver -----------------------------------------------------------------------------------------
#: Ray on 127.0.0.1 only (Ray replaces the loopback address by the machine's outward one otherwise)
RAY_LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
ON_RAY = {"TUNELAB_EXECUTOR": "ray", **RAY_LOOPBACK}


class StorageForBenchmark:
    """`--storage s3`: moto's S3 server on 127.0.0.1 in this process (a bucket, dummy credentials, the standard
    AWS environment for the workloads); `--storage local`: a temporary folder."""

    def __init__(self, kind: str):
        self.kind, self.env, self._server = kind, {}, None
        self._tmp = tempfile.TemporaryDirectory()
        if kind == "local":
            self.uri = os.path.join(self._tmp.name, "storage")
            return
        import logging

        import boto3
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        port = self._server.get_host_and_port()[1]
        self.env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
                    "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
        boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL"], aws_access_key_id="bench",
                     aws_secret_access_key="bench", region_name="us-east-1").create_bucket(Bucket="bench")
        self.uri = "s3://bench/experiments"

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._tmp.cleanup()


def run_workload(name: str, *extra: str, env: dict | None = None) -> tuple[dict, float]:
    if name.startswith("ray_"):
        env = {**RAY_LOOPBACK, **(env or {})}
    with tempfile.TemporaryDirectory() as tmp:
        launched = time.time()
        out = subprocess.run([sys.executable, HERE, "--workload", name, "--dir", tmp, *extra],
                             capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"workload {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1]), launched


def median_of(repeats: int, fn) -> float:
    return statistics.median(fn() for _ in range(repeats))


def compile_bytecode() -> bool:
    """Write tunelab's bytecode (`__pycache__`, what `pip install` does) before timing anything: with
    PYTHONDONTWRITEBYTECODE set and a source checkout without it, every process (driver and workers)
    compiles tunelab's sources again, which doubles the import time. True when the bytecode is there."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("tunelab")  # finds the package without importing it
    if spec is None or spec.origin is None:
        return False
    return bool(compileall.compile_dir(os.path.dirname(spec.origin), quiet=1))


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peers", action="store_true", help="also run Ray Tune and Optuna when installed")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller workloads")
    parser.add_argument("--ray-executor", action="store_true", help="also tunelab with executor='ray'")
    parser.add_argument("--dashboard", action="store_true",
                        help="also per-report overhead with the server on and a client polling like the page")
    parser.add_argument("--storage", choices=("s3", "local"),
                        help="also per-report overhead with storage_path on (s3: a moto server on 127.0.0.1) and "
                             "checkpoint upload/download throughput")
    parser.add_argument("--storage-only", action="store_true", help="with --storage: only the storage figures")
    parser.add_argument("--checkpoint-mb", type=int, default=50, help="checkpoint size for --storage throughput")
    parser.add_argument("--storage-path", help=argparse.SUPPRESS)
    parser.add_argument("--poll-ms", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--reports", type=int, default=20000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workload:
        print(json.dumps(WORKLOADS[args.workload](args)))
        return

    repeats = 3 if args.quick else 5
    reports = 5000 if args.quick else 20000
    trials = 300 if args.quick else 1000
    many = 2000 if args.quick else 10000
    rows: list[tuple[str, str, str]] = []

    def show(label: str, value: str, peer: str = "") -> None:
        rows.append((label, value, peer))
        print(f"{label:<48} {value:>14}  {peer}", flush=True)

    compiled = compile_bytecode()
    print(f"tunelab overhead on {os.cpu_count()} CPUs, medians of {repeats} runs (python {sys.version.split()[0]})"
          f"{'' if compiled else '; tunelab bytecode could not be written: figures include compiling it'}")
    if args.storage and args.storage_only:
        run_storage(args.storage, repeats, reports, args.checkpoint_mb, show)
        return
    imp = median_of(repeats, lambda: run_workload("import")[0]["seconds"])
    show("import tunelab", f"{imp * 1e3:.0f} ms")

    def first(env: dict | None = None) -> float:
        data, launched = run_workload("first_result", env=env)
        return data["first_result_at"] - launched

    first_s = median_of(repeats, first)
    show("process start -> first result (1 trial)", f"{first_s:.2f} s", "Ray Tune 2.60 here: ~10 s")

    per_report = median_of(repeats, lambda: run_workload("per_report", "--n", str(reports))[0]["us_per_report"])
    per_report_bare = median_of(repeats, lambda: run_workload(
        "per_report", "--n", str(reports), env={"TUNELAB_DISABLE_AUTO_LOGGERS": "1"})[0]["us_per_report"])
    show(f"per-report overhead ({reports} reports, default loggers)", f"{per_report:.0f} us", "Ray Tune 2.60 here: 4,655 us")
    show("per-report overhead (loggers off)", f"{per_report_bare:.0f} us")

    per_trial_runs = [run_workload("per_trial", "--n", str(trials))[0] for _ in range(max(1, repeats - 2))]
    per_trial = statistics.median(r["ms_per_trial"] for r in per_trial_runs)
    show(f"per-trial overhead ({trials} trivial trials, 2 CPUs)", f"{per_trial:.2f} ms", "Ray Tune 2.60 here: 1,794 ms")

    big = run_workload("per_trial", "--n", str(many))[0]
    show(f"{many} trivial trials: wall time", f"{big['wall_s']:.1f} s")
    show(f"{many} trivial trials: driver peak RSS", f"{big['peak_rss_mb']:.0f} MB")

    if args.dashboard:
        print("\nthe dashboard's live updates (server on, a client in another process polling as the page does):")
        for label, poll_ms in (("page's default, 1 poll/s", 1000), ("continuous polling (worst case)", 1)):
            served = median_of(repeats, lambda poll_ms=poll_ms: run_workload(
                "per_report", "--n", str(reports), "--poll-ms", str(poll_ms))[0]["us_per_report"])
            show(f"per-report overhead, {label}", f"{served:.0f} us", f"without the server: {per_report:.0f} us")

    if args.storage:
        run_storage(args.storage, repeats, reports, args.checkpoint_mb, show)

    if args.ray_executor:
        print("\ntunelab with executor='ray' (a Ray instance it starts on 127.0.0.1; trials as Ray actors):")
        ray_trials = 200 if args.quick else 500
        ray_reports = 2000 if args.quick else 5000
        first_ray = median_of(repeats, lambda: first(ON_RAY))
        show("process start -> first result (1 trial)", f"{first_ray:.2f} s")
        report_ray = median_of(repeats, lambda: run_workload(
            "per_report", "--n", str(ray_reports), env=ON_RAY)[0]["us_per_report"])
        show(f"per-report overhead ({ray_reports} reports, default loggers)", f"{report_ray:.0f} us",
             f"local executor: {per_report:.0f} us; Ray Tune 2.60 here: 4,655 us")
        trial_ray = median_of(max(1, repeats - 2), lambda: run_workload(
            "per_trial", "--n", str(ray_trials), env=ON_RAY)[0]["ms_per_trial"])
        show(f"per-trial overhead ({ray_trials} trivial trials, 2 CPUs)", f"{trial_ray:.2f} ms",
             f"local executor: {per_trial:.2f} ms; Ray Tune 2.60 here: 1,794 ms")

    if args.peers:
        print("\npeers (same workloads):")
        if have("ray"):
            ray_trial = run_workload("ray_per_trial", "--n", "50")[0]["ms_per_trial"]
            show("Ray Tune per-trial overhead (50 trials)", f"{ray_trial:.0f} ms", f"ratio Ray/tunelab = {ray_trial / per_trial:.0f}x")
            ray_report = run_workload("ray_per_report", "--n", "2000")[0]["us_per_report"]
            show("Ray Tune per-report overhead (2,000 reports)", f"{ray_report:.0f} us",
                 f"ratio Ray/tunelab = {ray_report / per_report:.0f}x")
        else:
            print("  ray not installed: using the figures measured on this machine kind (see the brief)")
            show("ratio Ray Tune/tunelab per report", f"{4655 / per_report:.0f}x")
            show("ratio Ray Tune/tunelab per trial", f"{1794 / per_trial:.0f}x")
        if have("optuna"):
            opt = run_workload("optuna", "--n", str(trials), "--reports", str(reports))[0]
            show("Optuna in-process per-trial (no isolation)", f"{opt['ms_per_trial']:.2f} ms",
                 f"tunelab/Optuna = {per_trial / opt['ms_per_trial']:.1f}x")
            show("Optuna in-process trial.report()", f"{opt['us_per_report']:.0f} us",
                 f"tunelab/Optuna = {per_report / opt['us_per_report']:.1f}x")


def run_storage(kind: str, repeats: int, reports: int, checkpoint_mb: int, show) -> None:
    """Per-report overhead with storage on and off, alternated round by round (a loaded machine drifts), and
    checkpoint throughput through `Storage.put_dir` / `get_dir`."""
    storage = StorageForBenchmark(kind)
    try:
        print(f"\nstorage_path={storage.uri} ({'moto S3 server on 127.0.0.1' if kind == 's3' else 'a local folder'}):")
        off, on = [], []
        for _ in range(repeats):
            off.append(run_workload("per_report", "--n", str(reports), env=storage.env)[0]["us_per_report"])
            on.append(run_workload("per_report", "--n", str(reports), "--storage-path", storage.uri,
                                   env=storage.env)[0]["us_per_report"])
        ratio = statistics.median(b / a for a, b in zip(off, on))
        show(f"per-report overhead, storage off ({reports} reports)", f"{statistics.median(off):.0f} us")
        show(f"per-report overhead, storage {kind}", f"{statistics.median(on):.0f} us",
             f"median per-round ratio on/off {ratio:.2f} (target <= 1.10)")
        runs = [run_workload("storage_throughput", "--n", str(checkpoint_mb), "--storage-path", storage.uri,
                             env=storage.env)[0] for _ in range(repeats)]
        show(f"checkpoint upload, {checkpoint_mb} MB in 10 files (put_dir)",
             f"{statistics.median(r['upload_mb_s'] for r in runs):.0f} MB/s")
        show(f"checkpoint download, {checkpoint_mb} MB (get_dir)",
             f"{statistics.median(r['download_mb_s'] for r in runs):.0f} MB/s")
    finally:
        storage.close()


if __name__ == "__main__":
    main()
