"""The `tunelab` command: `run` end to end in a subprocess, bad input, and `ls`/`show`/`plot` on an
experiment folder written by a real `tunelab.run`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tunelab
from tunelab import cli

TRAINABLES = '''
def train(config, reporter):
    for i in range(1, 4):
        reporter(mean_loss=config["lr"] / i, mean_accuracy=1 - config["lr"] / i)


def broken(config, reporter):
    if config["lr"] > 0.15:
        raise ValueError("lr too high")
    reporter(mean_loss=config["lr"])
'''


def tunelab_cmd(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m tunelab.cli ARGS` as a user would (TUNELAB_RESULTS_DIR comes from conftest)."""
    return subprocess.run([sys.executable, "-m", "tunelab.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=90)


def assert_usage_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, one `tunelab: error:` line on stderr naming the problem, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tunelab: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "trainables.py").write_text(TRAINABLES)
    return tmp_path


# -- run ---------------------------------------------------------------------------------------------
def test_run_yaml_spec_end_to_end(workdir: Path, results_dir: str) -> None:
    (workdir / "exp.yaml").write_text(
        "demo:\n"
        "  run: trainables.py:train\n"
        "  stop: {training_iteration: 3}\n"
        "  config:\n"
        "    lr: {grid_search: [0.1, 0.2]}\n"
        "    act: {choice: [relu, tanh]}\n"
        "    wd: {loguniform: [1e-4, 1e-1]}\n"
        "    layers: {randint: [1, 4]}\n"
        "    dropout: {uniform: [0, 0.5]}\n"
        "    seed: {eval: 'random.randint(0, 100)'}\n"
    )
    proc = tunelab_cmd("run", "exp.yaml", "--metric", "mean_loss", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "== Status ==" in proc.stdout
    assert "Experiment demo: trials 2 (2 TERMINATED)" in proc.stdout
    assert "Current best trial: train_0_" in proc.stdout and "mean_loss=0.0333333" in proc.stdout
    analysis = tunelab.ExperimentAnalysis(os.path.join(results_dir, "demo"))
    configs = sorted((t.config for t in analysis.trials), key=lambda c: c["lr"])
    assert [c["lr"] for c in configs] == [0.1, 0.2]
    for config in configs:
        assert config["act"] in ("relu", "tanh")
        assert 1e-4 <= config["wd"] <= 1e-1 and 0 <= config["dropout"] <= 0.5
        assert config["layers"] in (1, 2, 3) and 0 <= config["seed"] <= 100


def test_run_json_spec_with_failed_trial_exits_1(workdir: Path, tmp_path: Path) -> None:
    spec = {"failing": {"run": "trainables:broken", "config": {"lr": {"grid_search": [0.1, 0.2]}}}}
    (workdir / "exp.json").write_text(json.dumps(spec))
    out = tmp_path / "elsewhere"
    proc = tunelab_cmd("run", "exp.json", "--verbose", "0", "--local-dir", str(out), "--num-cpus", "2", cwd=workdir)
    assert proc.returncode == 1, proc.stderr
    assert "trials 2 (1 ERROR, 1 TERMINATED)" in proc.stdout
    assert "lr too high" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "failing").is_dir()


def test_run_missing_spec_file(workdir: Path) -> None:
    assert_usage_error(tunelab_cmd("run", "nope.yaml", cwd=workdir), "spec file not found", "nope.yaml")


def test_run_invalid_yaml(workdir: Path) -> None:
    (workdir / "bad.yaml").write_text("demo: {run: [unclosed\n")
    assert_usage_error(tunelab_cmd("run", "bad.yaml", cwd=workdir), "bad.yaml: invalid YAML at line 2")


def test_run_unknown_spec_key(workdir: Path) -> None:
    (workdir / "unknown.yaml").write_text("demo: {run: trainables.py:train, colour: red}\n")
    assert_usage_error(tunelab_cmd("run", "unknown.yaml", cwd=workdir), "unknown key(s) ['colour']", "'demo'")


def test_run_unknown_trainable(workdir: Path) -> None:
    (workdir / "unknown.yaml").write_text("demo: {run: no_such_trainable}\n")
    assert_usage_error(tunelab_cmd("run", "unknown.yaml", cwd=workdir), "unknown trainable 'no_such_trainable'",
                       "module:function")


@pytest.mark.parametrize(
    "spec, fragments",
    [
        ("demo: {run: trainables.py:nope}\n", ["trainables.py has no attribute 'nope'"]),
        ("demo: {run: missing.py:f}\n", ["trainable file not found: missing.py"]),
        ("demo: {run: no_such_module:f}\n", ["No module named 'no_such_module'"]),
        ("demo: {run: trainables.py:train, config: {lr: {uniform: [1]}}}\n", ["config /lr: {uniform: [1]}"]),
        ("demo: {run: trainables.py:train, config: {lr: {choice: 3}}}\n", ["config /lr: {choice: ...}"]),
        ("demo: {run: trainables.py:train, num_samples: 0}\n", ["num_samples must be an integer >= 1"]),
        ("demo: [1, 2]\n", ["experiment 'demo' must be a mapping"]),
        ("", ["empty file"]),
        ("- a\n- b\n", ["expected a mapping"]),
    ],
)
def test_run_bad_specs_in_process(workdir: Path, monkeypatch, capsys, spec: str, fragments: list[str]) -> None:
    monkeypatch.chdir(workdir)
    (workdir / "spec.yaml").write_text(spec)
    assert cli.main(["run", "spec.yaml"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tunelab: error: ") and "\n" not in err
    for fragment in fragments:
        assert fragment in err


def test_run_bad_options_in_process(workdir: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(workdir)
    (workdir / "exp.json").write_text('{"demo": {"run": "trainables.py:train"')
    assert cli.main(["run", "exp.json"]) == 2
    assert "exp.json: invalid JSON" in capsys.readouterr().err
    (workdir / "exp.yaml").write_text("demo: {run: trainables.py:train}\n")
    (workdir / "exp.toml").write_text("")
    cases = [
        (["run", "exp.toml"], "unknown spec file type '.toml'"),
        (["run", "exp.yaml", "--metric", "score"], "--metric score needs --mode"),
        (["run", "exp.yaml", "--mode", "max"], "--mode needs --metric"),
        (["run", "exp.yaml", "--search", "hyperopt"], "--search hyperopt needs --metric"),
        (["run", "exp.yaml", "--scheduler", "ASHA", "--scheduler-arg", "bogus=1"],
         "unexpected keyword argument 'bogus'"),
        (["run", "exp.yaml", "--scheduler-arg", "novalue"], "--scheduler-arg expects KEY=VALUE"),
        (["run", "exp.yaml", "--scheduler", "PBT"], "PopulationBasedTraining needs hyperparam_mutations"),
    ]
    for argv, fragment in cases:
        assert cli.main(argv) == 2, argv
        assert fragment in capsys.readouterr().err, argv


def test_convert_config_forms() -> None:
    from tunelab.suggest.domains import Categorical, Float, Integer

    config = cli.convert_config({
        "a": {"uniform": [0, 1]},
        "b": {"loguniform": {"lower": "1e-4", "upper": 1e-1}},  # YAML 1.1 reads 1e-4 as a string
        "c": {"choice": ["x", {"randint": [1, 3]}]},
        "d": {"grid_search": [1, 2]},
        "e": {"eval": "1 + 1"},
        "f": {"nested": {"qrandint": [0, 10, 2]}},
        "g": {"uniform": [0, 1], "other": 3},  # two keys: a plain dict, not a domain
    })
    assert isinstance(config["a"], Float) and (config["a"].lower, config["a"].upper) == (0, 1)
    assert isinstance(config["b"], Float) and config["b"].log and config["b"].lower == 1e-4
    assert isinstance(config["c"], Categorical) and isinstance(config["c"].categories[1], Integer)
    assert config["d"] == {"grid_search": [1, 2]} and config["e"] == {"eval": "1 + 1"}
    assert isinstance(config["f"]["nested"], Integer) and config["f"]["nested"].q == 2
    assert config["g"]["other"] == 3 and isinstance(config["g"]["uniform"], list)


@pytest.mark.parametrize("command", ["run", "ls", "show", "plot"])
def test_every_subcommand_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: tunelab {command}" in out and "--metric" in out


def test_no_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2


# -- ls / show / plot on a real experiment -----------------------------------------------------------
@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> str:
    """A real experiment folder: 2 trials TERMINATED, 1 ERROR."""
    root = tmp_path_factory.mktemp("results")

    def train(config, reporter):
        if config["act"] == "bad":
            raise RuntimeError("bad activation")
        for i in range(1, 4):
            reporter(mean_accuracy=config["lr"] * i, mean_loss=1 - config["lr"] * i)

    config = {"lr": tunelab.grid_search([0.1, 0.2, 0.3]),
              "act": tunelab.sample_from(lambda spec: "bad" if spec.config.lr > 0.25 else "relu")}
    tunelab.run(train, name="exp1", config=config, local_dir=str(root), verbose=0, raise_on_failed_trial=False)
    return str(root / "exp1")


def test_ls(experiment: str, capsys) -> None:
    root = os.path.dirname(experiment)
    assert cli.main(["ls", root]) == 0
    out = capsys.readouterr().out
    assert f"Experiments in {root}" in out
    assert "exp1" in out and "3 (1 ERROR, 2 TERMINATED)" in out
    assert "mean_accuracy=0.6 (max)" in out  # guessed: the first seed metric reported
    assert cli.main(["ls", root, "--metric", "mean_loss", "--mode", "min"]) == 0
    assert "mean_loss=0.4 (min)" in capsys.readouterr().out
    assert cli.main(["ls", root, "--metric", "mean_loss"]) == 0  # seed metric: mode known
    assert "mean_loss=0.4 (min)" in capsys.readouterr().out


def test_ls_defaults_and_edges(experiment: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TUNELAB_RESULTS_DIR", os.path.dirname(experiment))
    assert cli.main(["ls"]) == 0
    assert "exp1" in capsys.readouterr().out
    assert cli.main(["ls", experiment]) == 0  # an experiment folder lists itself
    assert "exp1 " in capsys.readouterr().out
    assert cli.main(["ls", str(tmp_path)]) == 0
    assert "No experiments in" in capsys.readouterr().out
    assert cli.main(["ls", str(tmp_path / "missing")]) == 2
    assert "no results folder at" in capsys.readouterr().err


def test_show(experiment: str, monkeypatch, capsys) -> None:
    assert cli.main(["show", experiment]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== Status ==")
    assert f"Result logdir: {experiment}" in out
    assert "Number of trials: 3 (1 ERROR, 2 TERMINATED)" in out
    assert "ERROR trials:" in out and "TERMINATED trials:" in out
    assert "Current best trial: train_1_" in out and "mean_accuracy=0.6" in out
    monkeypatch.setenv("TUNELAB_RESULTS_DIR", os.path.dirname(experiment))
    assert cli.main(["show", "exp1", "--metric", "mean_loss", "--max-trials", "1"]) == 0  # by name
    out = capsys.readouterr().out
    assert "mean_loss=0.4" in out and "not shown" in out
    assert cli.main(["show", "no_such_experiment"]) == 2
    assert "no experiment folder at" in capsys.readouterr().err


def test_show_folder_without_trials(tmp_path: Path, capsys) -> None:
    assert cli.main(["show", str(tmp_path)]) == 2
    assert "no trial folders" in capsys.readouterr().err


def test_plot_writes_html(experiment: str, tmp_path: Path, capsys) -> None:
    out = tmp_path / "plots"
    assert cli.main(["plot", experiment, "--metric", "mean_loss", "--mode", "min", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["best_so_far.html", "learning_curves.html", "parallel_coordinates.html"]
    for path in out.iterdir():
        text = path.read_text()
        assert "mean_loss" in text and "<html>" in text
    assert capsys.readouterr().out.count("wrote ") == 3


def test_plot_default_folder_and_png_without_kaleido(experiment: str, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "kaleido", None)  # as if kaleido were not installed
    assert cli.main(["plot", experiment, "--png"]) == 1
    captured = capsys.readouterr()
    assert "needs kaleido" in captured.err and "pip install kaleido" in captured.err
    plots = Path(experiment) / "plots"
    assert (plots / "parallel_coordinates.html").exists()  # the HTML is written anyway
    assert "mean_accuracy" in (plots / "learning_curves.html").read_text()
    assert cli.main(["plot", experiment, "--metric", "nope", "--mode", "max"]) == 2
    assert "no trial reported a usable 'nope'" in capsys.readouterr().err
