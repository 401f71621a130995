"""The scheduler and search examples run end to end in their smoke mode, each in a fresh process."""
import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


def run_example(name, tmp_path, *args):
    env = {**os.environ, "TUNELAB_RESULTS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, name), "--smoke-test", *args], check=False,
                         capture_output=True, text=True, timeout=100, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout


def final_status(stdout):
    """The last `== Status ==` block (printed when the experiment ends)."""
    assert "== Status ==" in stdout, stdout[-2000:]
    return stdout.rsplit("== Status ==", 1)[1]


def best_config(stdout):
    match = re.search(r"^Best config: (\{.*\})$", stdout, re.MULTILINE)
    assert match, stdout[-2000:]
    return ast.literal_eval(match.group(1))


def test_hyperband_example(tmp_path):
    stdout = run_example("hyperband_example.py", tmp_path)
    status = final_status(stdout)
    assert "Using HyperBand" in status
    assert "Number of trials: 9 (9 TERMINATED)" in status
    config = best_config(stdout)
    assert 10 <= config["width"] < 100 and 0 <= config["height"] < 100
    # the second bracket halved: some trial stopped at its first milestone, so fewer than 9 x 9 iterations
    iterations = int(re.search(r"^9 trials, (\d+) iterations in all", stdout, re.MULTILINE).group(1))
    assert iterations < 81
    assert os.path.isdir(tmp_path / "hyperband_test")


@pytest.mark.parametrize("args", [(), ("--promotion",)], ids=["stopping", "promotion"])
def test_async_hyperband_example(tmp_path, args):
    stdout = run_example("async_hyperband_example.py", tmp_path, *args)
    status = final_status(stdout)
    assert "Using AsyncHyperBand" in status
    assert "Number of trials: 12 (12 TERMINATED)" in status
    config = best_config(stdout)
    assert set(config) == {"width", "height"}
    iterations = int(re.search(r"^12 trials, (\d+) iterations in all", stdout, re.MULTILINE).group(1))
    assert iterations < 12 * 45  # ASHA ended some trials early


def test_pbt_example(tmp_path):
    stdout = run_example("pbt_example.py", tmp_path)
    status = final_status(stdout)
    assert "Number of trials: 4 (4 TERMINATED)" in status
    exploits = int(re.search(r"^(\d+) exploits", stdout, re.MULTILINE).group(1))
    assert exploits >= 1
    assert "@perturbed[" in status  # exploited trials carry the seed's tag
    config = best_config(stdout)
    assert set(config) == {"lr", "some_other_factor"} and config["some_other_factor"] in (1, 2)
    assert re.search(r"^Best result: mean_accuracy=[\d.]+ after 60 iterations", stdout, re.MULTILINE)


def test_hyperopt_example(tmp_path):
    stdout = run_example("hyperopt_example.py", tmp_path)
    status = final_status(stdout)
    assert "Using AsyncHyperBand" in status
    assert "Number of trials: 10 (10 TERMINATED)" in status
    config = best_config(stdout)
    assert 0 <= config["width"] <= 20 and -100 <= config["height"] <= 100
    assert config["activation"] in ("relu", "tanh")  # the native hp.choice gives the value, not its index
    loss = float(re.search(r"^Best result: mean_loss=(-?[\d.]+)", stdout, re.MULTILINE).group(1))
    assert loss < 10  # better than a config that never trains (height 0, step 0)


def test_optuna_example(tmp_path):
    stdout = run_example("optuna_example.py", tmp_path)
    status = final_status(stdout)
    assert "Number of trials: 10 (10 TERMINATED)" in status
    config = best_config(stdout)
    assert 0 <= config["width"] <= 20 and -100 <= config["height"] <= 100
    assert config["activation"] in ("relu", "tanh") and config["steps"] == 100
    loss = float(re.search(r"^Best result: mean_loss=(-?[\d.]+)", stdout, re.MULTILINE).group(1))
    assert loss < 10


def test_asha_digits(tmp_path):
    stdout = run_example("asha_digits.py", tmp_path)
    assert "All trials TERMINATED" in stdout
    rows = {}
    for label in ("full_search", "asha_stopping", "asha_promotion"):
        match = re.search(rf"^{label}\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)x\s+(\d+)", stdout, re.MULTILINE)
        assert match, stdout[-3000:]
        rows[label] = match.groups()
    full_epochs = int(rows["full_search"][3])
    assert full_epochs == 6 * 4  # every configuration trained to the end
    for label in ("asha_stopping", "asha_promotion"):
        accuracy, epochs, results = float(rows[label][0]), int(rows[label][3]), int(rows[label][5])
        assert 0 < accuracy <= 1
        assert 6 <= epochs < full_epochs  # ASHA stopped something
        assert results == epochs  # a promoted trial resumed from its checkpoint without repeating epochs
        assert re.search(rf"^{label}: best [\d.]+ .* -> (YES|NO)$", stdout, re.MULTILINE)
    assert "learning curves differ" not in stdout  # training is deterministic, whatever the scheduler


def test_examples_page_lists_every_example():
    with open(os.path.join(ROOT, "docs", "examples.md")) as f:
        page = f.read()
    scripts = []
    for name in sorted(os.listdir(EXAMPLES)):
        if name.endswith(".py"):
            with open(os.path.join(EXAMPLES, name)) as f:
                if '__name__ == "__main__"' in f.read():
                    scripts.append(name)
    missing = [name for name in scripts if name not in page]
    assert not missing, f"docs/examples.md does not mention {missing}"
