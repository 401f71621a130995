"""Experiment resume under real SIGKILLs of the driver at random instants, and trial recovery after
SIGKILLs of a worker: every trial ends with the exact, gap-free and duplicate-free result history."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "kill_driver.py")


def _results(trial_dir):
    with open(os.path.join(trial_dir, "result.json")) as f:
        return [json.loads(line) for line in f]


def _trial_dirs(exp_dir):
    return sorted(os.path.join(exp_dir, d) for d in os.listdir(exp_dir)
                  if os.path.exists(os.path.join(exp_dir, d, "result.json")))


def _start(tmp_path, kind, iterations):
    return subprocess.Popen([sys.executable, DRIVER, str(tmp_path), kind, str(iterations)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_loop(tmp_path, kind, iterations, kills, seed):
    rng = random.Random(seed)
    done_kills = 0
    while done_kills < kills:
        proc = _start(tmp_path, kind, iterations)
        time.sleep(rng.uniform(0.15, 0.6))
        if proc.poll() is not None:  # finished before the kill point: the experiment is complete
            out, err = proc.communicate()
            assert proc.returncode == 0, err
            return done_kills, json.loads(out.strip().splitlines()[-1])
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_kills += 1
    proc = _start(tmp_path, kind, iterations)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return done_kills, json.loads(out.strip().splitlines()[-1])


@pytest.mark.timeout(600)
def test_class_trainable_survives_20_driver_kills(tmp_path):
    iterations = 200
    kills, statuses = _kill_loop(tmp_path, "class", iterations, kills=20, seed=1)
    assert kills == 20
    assert len(statuses) == 4 and set(statuses.values()) == {"TERMINATED"}
    dirs = _trial_dirs(tmp_path / "killed")
    assert len(dirs) == 4  # no grid point run twice, none skipped
    for trial_dir in dirs:
        results = _results(trial_dir)
        assert [r["training_iteration"] for r in results] == list(range(1, iterations + 1))
        a = results[0]["config"]["a"]
        x = 0.0
        for r in results:  # every logged value is the uninterrupted run's value
            x = 0.99 * x + a
            assert r["x"] == pytest.approx(x, rel=1e-12)
    assert sorted(r["config"]["a"] for r in (_results(d)[-1] for d in dirs)) == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.timeout(600)
def test_function_trainable_resumes_from_reported_checkpoints(tmp_path):
    iterations = 120
    kills, statuses = _kill_loop(tmp_path, "function", iterations, kills=8, seed=2)
    assert set(statuses.values()) == {"TERMINATED"} and len(statuses) == 3
    for trial_dir in _trial_dirs(tmp_path / "killed"):
        results = _results(trial_dir)
        assert [r["i"] for r in results] == list(range(1, iterations + 1))
        assert [r["training_iteration"] for r in results] == list(range(1, iterations + 1))
        assert results[-1]["value"] == iterations * results[-1]["config"]["a"]
