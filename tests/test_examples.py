"""Examples are tests: each runs end to end in its smoke mode, in a fresh process."""
import os
import re
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


def test_tuner_quickstart(tmp_path):
    import re

    stdout = run_example("tuner_quickstart.py", tmp_path)
    assert "6 trials: 6 terminated, 0 errors" in stdout
    loss, epochs = re.search(r"^Best loss: ([\d.]+) after (\d+) epochs", stdout, re.MULTILINE).groups()
    assert float(loss) < 9  # better than the untrained model (w = 0)
    assert re.search(rf"^Best checkpoint: epoch {epochs} in ", stdout, re.MULTILINE)  # the last one is kept
    trained = int(re.search(r"^Epochs trained in all: (\d+)", stdout, re.MULTILINE).group(1))
    assert 6 * 2 <= trained <= 6 * 10  # ASHA's grace period at least, the full budget at most
    assert os.path.isfile(tmp_path / "tuner_quickstart" / "tuner.pkl")  # what Tuner.restore reads


def _boosting_example(name, tmp_path, experiment):
    stdout = run_example(name, tmp_path)
    assert "Number of trials: 4 (4 TERMINATED)" in stdout
    rounds = re.search(r"^4 trials, (\d+) boosting rounds in all \(of 40\)", stdout, re.MULTILINE)
    assert rounds and 8 <= int(rounds.group(1)) <= 40  # (tests/integrations shows ASHA's stops exactly)
    best = re.search(r"^Best trial: logloss=([\d.]+) after (\d+) rounds", stdout, re.MULTILINE)
    assert best and float(best.group(1)) < 0.69 and 2 <= int(best.group(2)) <= 10  # learned: below log(2)
    accuracy = float(re.search(r"^Best model accuracy: ([\d.]+)", stdout, re.MULTILINE).group(1))
    assert accuracy > 0.85  # the checkpointed booster, loaded back, predicts held-out data
    assert os.path.isdir(tmp_path / experiment)


def test_xgboost_example(tmp_path):
    pytest.importorskip("xgboost")
    _boosting_example("xgboost_example.py", tmp_path, "xgboost_breast_cancer")


def test_lightgbm_example(tmp_path):
    pytest.importorskip("lightgbm")
    _boosting_example("lightgbm_example.py", tmp_path, "lightgbm_breast_cancer")


@pytest.mark.timeout(120)
def test_tune_client_example(tmp_path):
    stdout = run_example("tune_client_example.py", tmp_path)
    assert "Added: [(" in stdout and "'PENDING')" in stdout
    assert "Stopped the worst trial" in stdout and ": TERMINATED" in stdout
    assert "Experiment ended (5 trials, exit code 0)." in stdout


def _framework_example(name, tmp_path, experiment, max_epochs):
    stdout = run_example(name, tmp_path)
    assert "Number of trials: 4 (4 TERMINATED)" in stdout
    epochs = re.search(rf"^4 trials, (\d+) epochs in all \(of {4 * max_epochs}\)", stdout, re.MULTILINE)
    assert epochs and 4 <= int(epochs.group(1)) <= 4 * max_epochs  # (tests/integrations shows ASHA's stops exactly)
    assert re.search(r"^Best hyperparameters found were:  \{.*'lr'", stdout, re.MULTILINE)
    accuracy = float(re.search(r"^Best validation accuracy: ([\d.]+)", stdout, re.MULTILINE).group(1))
    assert accuracy > 0.3  # learned: 10 classes give 0.1 by chance
    assert os.path.isdir(tmp_path / experiment)
    return stdout


def test_keras_mnist_example(tmp_path):
    import importlib.util

    if importlib.util.find_spec("keras") is None:  # not imported here: keras needs KERAS_BACKEND first
        pytest.skip("keras is not installed")
    pytest.importorskip("torch")
    stdout = _framework_example("keras_mnist_example.py", tmp_path, "keras_digits", 6)
    best = float(re.search(r"^Best validation accuracy: ([\d.]+)", stdout, re.MULTILINE).group(1))
    loaded = float(re.search(r"^Best model accuracy: ([\d.]+)", stdout, re.MULTILINE).group(1))
    assert loaded == pytest.approx(best, abs=0.002)  # the checkpointed model, loaded back, scores the same


def test_lightning_example(tmp_path):
    pytest.importorskip("lightning")
    _framework_example("lightning_example.py", tmp_path, "lightning_digits", 5)
