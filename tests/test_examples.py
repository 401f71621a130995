"""Examples are tests: each runs end to end in its smoke mode, in a fresh process."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_example(name, tmp_path):
    env = {**os.environ, "TUNELAB_RESULTS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), "--smoke-test"],
                         capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout


def test_quickstart_digits(tmp_path):
    stdout = run_example("quickstart_digits.py", tmp_path)
    assert "Best validation accuracy" in stdout
    assert os.path.isdir(tmp_path / "digits_mlp")


@pytest.mark.timeout(600)
def test_quickstart_pytorch(tmp_path):
    stdout = run_example("quickstart_pytorch.py", tmp_path)
    assert stdout.count("TERMINATED") >= 2
    assert "== Status ==" in stdout


@pytest.mark.timeout(120)
def test_tune_client_example(tmp_path):
    stdout = run_example("tune_client_example.py", tmp_path)
    assert "Added: [(" in stdout and "'PENDING')" in stdout
    assert "Stopped the worst trial" in stdout and ": TERMINATED" in stdout
    assert "Experiment ended (5 trials, exit code 0)." in stdout
