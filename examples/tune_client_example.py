"""Steer a running experiment from another process with `TuneClient` (and watch it in the dashboard).

One process runs an experiment with its server (`with_server=True`); this script starts it as a child
process, then, as a user in a notebook would: lists the trials, looks at one, adds trials from a spec
(the seed's `add_trial`), stops the worst running one, and finally stops the rest so the experiment ends.
While it runs, open http://127.0.0.1:<port>/ in a browser: the dashboard shows the same trials live.

    python examples/tune_client_example.py               # about 30 s
    python examples/tune_client_example.py --smoke-test  # a few seconds
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

import tunelab as tune
from tunelab import TuneError
from tunelab.web_server import TuneClient


def training(config):
    """A synthetic learning curve: the loss falls faster with a larger lr, towards a floor set by `width`."""
    for step in range(1, 100_000):
        tune.report(loss=1.0 / (1 + config["lr"] * step) + 0.1 / config["width"])
        time.sleep(config.get("step_s", 0.05))


def run_experiment(port: int, smoke: bool) -> None:
    """The experiment's process: a grid of 4 trials, served on 127.0.0.1:`port` until every trial ends."""
    tune.register_trainable("training", training)
    tune.init(num_cpus=4)
    step_s = 0.01 if smoke else 0.05
    tune.run_experiments({"client_demo": {"run": "training", "config": {
        "lr": tune.grid_search([0.01, 0.1]), "width": tune.grid_search([1, 4]), "step_s": step_s}}},
        with_server=True, server_port=port, verbose=0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_running(client: TuneClient, count: int, timeout_s: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            trials = client.get_all_trials()["trials"]
        except TuneError:  # the server is not up yet
            trials = []
        if len([t for t in trials if t["status"] == "RUNNING" and t["result"]]) >= count:
            return trials
        time.sleep(0.2)
    raise SystemExit(f"the experiment did not start {count} trials within {timeout_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke-test", action="store_true", help="a short run, for the tests")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    parser.add_argument("--experiment", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the child's role
    args = parser.parse_args()
    if args.experiment:
        run_experiment(args.experiment, args.smoke_test)
        return

    port = args.port or free_port()
    child = subprocess.Popen([sys.executable, __file__, "--experiment", str(port)]
                             + (["--smoke-test"] if args.smoke_test else []))
    try:
        client = TuneClient(f"localhost:{port}")
        trials = wait_until_running(client, 4)
        print(f"Experiment running; dashboard at http://127.0.0.1:{port}/")
        for info in trials:
            print(f"  {info['id']}  {info['status']:<10} {info['config']}  loss={info['result']['loss']:.4f}")
        print("One trial:", client.get_trial(trials[0]["id"])["trial"]["experiment_tag"])

        added = client.add_trial("more", {"run": "training", "config": {"lr": 1.0, "width": 8,
                                                                       "step_s": 0.01 if args.smoke_test else 0.05}})
        print("Added:", [(t["id"], t["status"]) for t in added["trials"]])

        time.sleep(1 if args.smoke_test else 10)
        running = [t for t in client.get_all_trials()["trials"] if t["status"] == "RUNNING" and t["result"]]
        worst = max(running, key=lambda t: t["result"]["loss"])
        stopped = client.stop_trial(worst["id"])["trial"]
        print(f"Stopped the worst trial {stopped['id']} (loss {worst['result']['loss']:.4f}): {stopped['status']}")

        time.sleep(1 if args.smoke_test else 10)
        final = client.get_all_trials()["trials"]
        best = min((t for t in final if t["result"]), key=lambda t: t["result"]["loss"])
        print(f"Best so far: {best['id']} {best['config']} loss={best['result']['loss']:.4f}")
        for info in final:
            if info["status"] not in ("TERMINATED", "ERROR"):
                client.stop_trial(info["id"])
        child.wait(timeout=60)
        print(f"Experiment ended ({len(final)} trials, exit code {child.returncode}).")
        if child.returncode != 0:
            raise SystemExit(child.returncode)
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait(timeout=30)


if __name__ == "__main__":
    main()
