"""Ray Tune 2.x's own example scripts, changed only in their imports, run on tunelab.

The scripts are read from the Ray wheel (`pip install 'tunelab[ray]'`: Ray ships them as
`ray/tune/examples/*.py`, the files its documentation pages include), never imported from Ray and never
copied here: `ray2_rewrite.py` changes their import statements (and proves that nothing else changed), and
each runs in a subprocess where `import ray` fails (`no_ray/sitecustomize.py`), trials included.

Offline: MNIST is a small synthetic set written in torchvision's raw format where the scripts look
(`~/data`, with HOME pointing at the test's folder); where torchvision cannot be imported the stand-in
in `offline/torchvision` reads those files. XGBoost uses scikit-learn's bundled breast-cancer data.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from ray2_mnist_files import write_mnist
from ray2_rewrite import import_lines, rewrite, without_imports

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RAY_SPEC = importlib.util.find_spec("ray")  # finds the wheel's files without importing Ray
RAY_EXAMPLES = os.path.join(os.path.dirname(RAY_SPEC.origin), "tune", "examples") if RAY_SPEC else None

needs_ray_wheel = pytest.mark.skipif(RAY_SPEC is None, reason="the scripts are read from the Ray wheel: "
                                                               "pip install 'tunelab[ray]'")


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def ray_script(name: str) -> str:
    with open(os.path.join(RAY_EXAMPLES, name)) as f:
        return f.read()


def run_script(name: str, tmp_path, *args: str, timeout: float = 240) -> str:
    """Rewrite the imports of Ray's `name`, run it (HOME and results under `tmp_path`); its output."""
    script = tmp_path / name
    script.write_text(rewrite(ray_script(name)))
    paths = [os.path.join(HERE, "no_ray"), os.path.join(ROOT, "src")]
    if not has("torchvision"):
        paths.append(os.path.join(HERE, "offline"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), HOME=str(tmp_path / "home"),
               TUNELAB_RESULTS_DIR=str(tmp_path / "results"), KERAS_BACKEND="torch")
    os.makedirs(env["HOME"], exist_ok=True)
    proc = subprocess.run([sys.executable, str(script), *args], cwd=str(tmp_path), env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return proc.stdout


def final_counts(output: str) -> str:
    """The last status block's trial count line, e.g. '10 (10 TERMINATED)'."""
    counts = re.findall(r"Number of trials: (.+)", output)
    assert counts, output[-3000:]
    return counts[-1].strip()


def trial_folders(results: str) -> list[str]:
    (experiment,) = [os.path.join(results, d) for d in os.listdir(results)]
    return sorted(os.path.join(experiment, d) for d in os.listdir(experiment)
                  if not d.startswith(".") and os.path.isdir(os.path.join(experiment, d)))


SCRIPTS = ["xgboost_example.py", "mnist_pytorch.py", "tune_basic_example.py", "tune_mnist_keras.py"]


@needs_ray_wheel
@pytest.mark.parametrize("name", SCRIPTS)
def test_only_the_imports_change(name):
    original = ray_script(name)
    ours = rewrite(original)
    assert without_imports(ours) == without_imports(original)  # the program itself is Ray's
    assert ours != original
    for line in import_lines(ours):
        assert not re.match(r"(from|import)\s+ray\b", line), line


@needs_ray_wheel
@pytest.mark.skipif(not (has("xgboost") and has("sklearn")), reason="needs xgboost and scikit-learn")
def test_xgboost_example(tmp_path):
    """The XGBoost guide's script: 10 trials under ASHA, the best booster loaded from its checkpoint."""
    output = run_script("xgboost_example.py", tmp_path)
    assert final_counts(output) == "10 (10 TERMINATED)"
    accuracy = float(re.search(r"Best model total accuracy: ([0-9.]+)", output).group(1))
    # the script samples eta in [1e-4, 1e-1] without a seed: when every sample is tiny, 10 boosting rounds
    # barely move the booster and it is right about as often as always answering the majority class (0.63)
    assert accuracy >= 0.6, output[-2000:]
    assert "'objective': 'binary:logistic'" in re.search(r"Best model parameters: (.+)", output).group(1)
    folders = trial_folders(str(tmp_path / "results"))
    assert len(folders) == 10
    for folder in folders:  # every trial kept a checkpoint holding the booster file the script names
        checkpoints = [d for d in os.listdir(folder) if d.startswith("checkpoint_")]
        assert checkpoints, os.listdir(folder)
        assert all(os.path.isfile(os.path.join(folder, d, "booster-checkpoint.json")) for d in checkpoints)


@needs_ray_wheel
@pytest.mark.skipif(not has("torch"), reason="needs torch")
def test_mnist_pytorch_smoke_test(tmp_path):
    """The PyTorch MNIST script (the getting-started model) with --smoke-test: one trial, 5 epochs at most."""
    write_mnist(str(tmp_path / "home" / "data"))
    output = run_script("mnist_pytorch.py", tmp_path, "--smoke-test")
    assert final_counts(output) == "1 (1 TERMINATED)"
    config = re.search(r"Best config is: (.+)", output).group(1)
    assert "'lr'" in config and "'momentum'" in config
    (folder,) = trial_folders(str(tmp_path / "results"))
    assert os.listdir(folder)


@needs_ray_wheel
def test_tune_basic_example_smoke_test(tmp_path):
    """Ray's basic example (random and grid search) with --smoke-test: 5 samples x 2 grid values."""
    output = run_script("tune_basic_example.py", tmp_path, "--smoke-test")
    assert final_counts(output) == "10 (10 TERMINATED)"
    best = re.search(r"Best hyperparameters found were:  (.+)", output).group(1)
    assert "'steps': 5" in best and "'activation'" in best


@needs_ray_wheel
@pytest.mark.skipif(not has("tensorflow"), reason="the Keras guide's script imports tensorflow (tf.keras and "
                    "tensorflow.keras.datasets), which is not installed here; see docs/migrating.md")
def test_tune_mnist_keras_smoke_test(tmp_path):
    output = run_script("tune_mnist_keras.py", tmp_path, "--smoke-test")
    assert "Best hyperparameters found were:" in output
