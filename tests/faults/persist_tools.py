"""Helpers of the persistence fault tests: start / kill / resume the driver, read the files it wrote."""
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "persist_driver.py")
GRID = 3


def start(local_dir, iterations, resume="AUTO", name="exp", sleep=0.02, **env_vars):
    env = dict(os.environ, PERSIST_SLEEP=str(sleep), **env_vars)
    return subprocess.Popen([sys.executable, DRIVER, str(local_dir), str(iterations), str(resume), name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc, timeout=120):
    """Wait for a driver; returns (returncode, stdout, stderr)."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def run(local_dir, iterations, resume="AUTO", name="exp", sleep=0.02, **env_vars):
    return finish(start(local_dir, iterations, resume, name, sleep, **env_vars))


def kill_after(proc, exp_dir, rows, timeout=60):
    """SIGKILL the driver once its trials have logged at least `rows` results in all (real kill)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(len(r) for r in histories(exp_dir, strict=False).values()) >= rows:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the driver finished before the kill point: " + proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def trial_dirs(exp_dir):
    if not os.path.isdir(exp_dir):
        return []
    return sorted(os.path.join(exp_dir, d) for d in os.listdir(exp_dir)
                  if os.path.isdir(os.path.join(exp_dir, d)) and not d.startswith("."))


def histories(exp_dir, strict=True):
    """trial folder -> the `i` of every line of its result.json (strict: every line must parse)."""
    found = {}
    for trial_dir in trial_dirs(exp_dir):
        path = os.path.join(trial_dir, "result.json")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        rows = []
        for line in lines[:-1] if not strict else lines:
            if not line and strict:
                continue
            try:
                rows.append(json.loads(line)["i"])
            except ValueError:
                if strict:
                    raise
        found[trial_dir] = rows
    return found


def csv_iterations(trial_dir):
    import csv

    with open(os.path.join(trial_dir, "progress.csv"), newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("i")
    return [int(row[col]) for row in rows[1:]]


def assert_exact(exp_dir, iterations):
    """Every grid point ran once and logged exactly 1..N in result.json and progress.csv."""
    found = histories(exp_dir)
    assert len(found) == GRID, sorted(found)
    for trial_dir, rows in found.items():
        assert rows == list(range(1, iterations + 1)), (trial_dir, rows)
        assert csv_iterations(trial_dir) == rows, trial_dir
