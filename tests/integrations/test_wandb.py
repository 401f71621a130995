"""WandbLoggerCallback in W&B's offline mode, driven by real `tunelab.run` calls; the runs are read back from
the `.wandb` files W&B writes (no server is ever contacted)."""
from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

wandb = pytest.importorskip("wandb")

import tunelab  # noqa: E402
from tunelab.error import TuneError  # noqa: E402
from tunelab.integrations.wandb import WandbLoggerCallback  # noqa: E402


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """W&B writes to tmp_path and never goes online; its process-wide setup (which read these variables)
    is torn down afterwards, so the next test's W&B reads its own."""
    wandb_dir = tmp_path / "wandb_dir"
    wandb_dir.mkdir()
    for name, value in {"WANDB_MODE": "offline", "WANDB_DIR": str(wandb_dir), "WANDB_SILENT": "true",
                        "WANDB_DISABLE_CODE": "true", "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "off",
                        "WANDB_ERROR_REPORTING": "false",
                        "WANDB_CONFIG_DIR": str(tmp_path / "wandb_config"), "WANDB_CACHE_DIR": str(tmp_path / "cache"),
                        "WANDB_DATA_DIR": str(tmp_path / "data"), "WANDB_API_KEY": "x" * 40}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    wandb.teardown()
    yield wandb_dir
    wandb.teardown()


# -- reading .wandb files (LevelDB log format: 32 KiB blocks of [crc32 | length | type] records) ----------
_BLOCK, _HEADER = 32768, 7


def _records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", data[:7]
    records, pending, pos = [], b"", 7
    while pos + _HEADER <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _HEADER:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        if kind == 0 and length == 0:
            pos += left_in_block
            continue
        chunk = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        pending += chunk
        if kind in (1, 4):  # FULL or LAST
            records.append(pending)
            pending = b""
    return records


def read_run(run_dir: Path) -> dict:
    """{"id", "name", "group", "project", "config", "history": [{step, ...}], "exit_code", "artifacts"}."""
    from wandb.proto import wandb_internal_pb2 as pb

    [file] = run_dir.glob("run-*.wandb")
    run: dict = {"config": {}, "history": [], "exit_code": None, "artifacts": []}
    for raw in _records(file):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(id=record.run.run_id, name=record.run.display_name, group=record.run.run_group,
                       project=record.run.project)
            run["config"].update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            run["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            run["history"].append({"/".join(i.nested_key) if i.nested_key else i.key: json.loads(i.value_json)
                                   for i in record.history.item})
        elif kind == "exit":
            run["exit_code"] = record.exit.exit_code
        elif kind == "artifact":
            run["artifacts"].append((record.artifact.name, record.artifact.type,
                                     sorted(e.path for e in record.artifact.manifest.contents)))
    run["config"] = {k: v.get("value", v) if isinstance(v, dict) else v for k, v in run["config"].items()
                     if not k.startswith("_")}
    return run


def runs_by_id(wandb_dir: Path) -> dict[str, dict]:
    # run.finish() returns once W&B's service took the run's last records; the service writes them to
    # the .wandb file on its own time: shutting it down (as a process exit does) flushes every file
    wandb.teardown()
    runs = [read_run(d) for d in sorted((wandb_dir / "wandb").glob("offline-run-*"))]
    return {r["id"]: r for r in runs}


def train(config):
    if config["lr"] > 0.25:
        tunelab.report({"mean_loss": 1.0})
        raise ValueError("lr too high")
    for i in range(1, 4):
        tunelab.report({"mean_loss": config["lr"] / i, "info": {"grad": float(i)}, "flag": True, "phase": "warmup"})


def test_one_run_per_trial_with_config_metrics_and_exit_code(offline: Path, tmp_path: Path) -> None:
    callback = WandbLoggerCallback(project="tl", excludes=["time_this_iter_s"])
    analysis = tunelab.run(train, name="wbexp", config={"lr": tunelab.grid_search([0.1, 0.2, 0.3]), "opt": {"m": 0.9}},
                           callbacks=[callback], local_dir=str(tmp_path / "results"), verbose=0,
                           raise_on_failed_trial=False)
    runs = runs_by_id(offline)
    assert set(runs) == {t.trial_id for t in analysis.trials}
    for trial in analysis.trials:
        run = runs[trial.trial_id]
        assert (run["name"], run["group"], run["project"]) == (str(trial), "wbexp", "tl")
        assert run["config"] == {"lr": trial.config["lr"], "opt": {"m": 0.9}}
        history = run["history"]
        steps = [row["_step"] for row in history]
        assert steps == [r["training_iteration"] for r in analysis.history(trial)]
        for row, result in zip(history, analysis.history(trial)):
            assert row["mean_loss"] == pytest.approx(result["mean_loss"])
            assert "phase" not in row and "flag" not in row and "time_this_iter_s" not in row
            assert "config/lr" not in row and "time_total_s" in row
        if trial.config["lr"] > 0.25:
            assert trial.status == "ERROR" and run["exit_code"] == 1 and steps == [1]
        else:
            assert trial.status == "TERMINATED" and run["exit_code"] == 0 and steps == [1, 2, 3]
            assert [row["info/grad"] for row in history] == [1.0, 2.0, 3.0]


def train_checkpointed(config):
    for i in range(1, 3):
        folder = Path(tunelab.get_trial_dir(), f"tmp_{i}")
        folder.mkdir()
        (folder / "weights.txt").write_text(str(i))
        tunelab.report({"loss": 1.0 / i, "lr_now": config["lr"] * i},
                       checkpoint=tunelab.Checkpoint.from_directory(folder))


def test_log_config_and_uploaded_checkpoints(offline: Path, tmp_path: Path) -> None:
    callback = WandbLoggerCallback(group="g1", log_config=True, upload_checkpoints=True, tags=["t"])
    analysis = tunelab.run(train_checkpointed, config={"lr": 0.5}, callbacks=[callback],
                           local_dir=str(tmp_path / "results"), verbose=0)
    [trial] = analysis.trials
    run = runs_by_id(offline)[trial.trial_id]
    assert run["group"] == "g1" and run["config"]["lr"] == 0.5 and run["exit_code"] == 0
    assert [row["lr_now"] for row in run["history"]] == [0.5, 1.0]
    assert len(run["artifacts"]) == 2
    for name, kind, files in run["artifacts"]:
        assert kind == "model" and name.startswith("checkpoint_") and "weights.txt" in files


def train_crashing_once(config):
    checkpoint = tunelab.get_checkpoint()
    start = checkpoint.to_dict()["step"] if checkpoint else 0
    for step in range(start + 1, 5):
        if step == 3 and not Path(config["marker"]).exists():
            Path(config["marker"]).touch()
            raise RuntimeError("deliberate crash")
        tunelab.report({"loss": 1.0 / step}, checkpoint=tunelab.Checkpoint.from_dict({"step": step}))


def test_recovered_trial_keeps_its_one_run(offline: Path, tmp_path: Path) -> None:
    analysis = tunelab.run(train_crashing_once, config={"marker": str(tmp_path / "crashed")}, max_failures=1,
                           callbacks=[WandbLoggerCallback()], local_dir=str(tmp_path / "results"), verbose=0)
    [trial] = analysis.trials
    runs = runs_by_id(offline)
    assert list(runs) == [trial.trial_id] and (tmp_path / "crashed").exists()
    run = runs[trial.trial_id]
    assert run["exit_code"] == 0
    assert [(row["_step"], row["loss"]) for row in run["history"]] == [(s, pytest.approx(1.0 / s)) for s in range(1, 5)]


def test_unfinished_runs_are_finished_at_experiment_end(offline: Path, tmp_path: Path) -> None:
    def forever(config):
        while True:
            tunelab.report({"x": 1.0})

    analysis = tunelab.run(forever, stop={"training_iteration": 2}, callbacks=[WandbLoggerCallback()],
                           local_dir=str(tmp_path / "results"), verbose=0)
    run = runs_by_id(offline)[analysis.trials[0].trial_id]
    assert run["exit_code"] == 0 and [row["_step"] for row in run["history"]] == [1, 2]


def test_api_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("k" * 40 + "\n")
    callback = WandbLoggerCallback(api_key_file=str(key_file))
    assert callback._settings().api_key == "k" * 40


@pytest.mark.parametrize("kwargs, match", [
    ({"api_key": "a", "api_key_file": "b"}, "not both"),
    ({"api_key_file": "/nonexistent/key"}, "is not a file"),
    ({"id": "x"}, r"sets \['id'\]"),
    ({"excludes": "loss"}, "excludes must be"),
])
def test_bad_arguments(kwargs, match) -> None:
    with pytest.raises(TuneError, match=match):
        WandbLoggerCallback(**kwargs)


def test_missing_wandb_names_the_extra(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(TuneError, match=r"tunelab\[wandb\]"):
        WandbLoggerCallback()
