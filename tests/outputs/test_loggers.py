"""Loggers write real files that read back equal to what the trial reported."""
from __future__ import annotations

import csv
import json
import math
import os
import time

import numpy as np
import pandas as pd

from tunelab.loggers import (
    CSVLoggerCallback,
    JsonLoggerCallback,
    TBXLoggerCallback,
    default_loggers,
    dumps_result,
    flatten_dict,
)
from tunelab.trial import Trial


def make_trial(tmp_path, tag: str = "0_lr=0.1", config: dict | None = None) -> Trial:
    trial = Trial("train_func", config if config is not None else {"lr": 0.1, "opt": {"name": "sgd"}}, experiment_tag=tag)
    trial.logdir = str(tmp_path / trial.dirname())
    os.makedirs(trial.logdir)
    return trial


def result(trial: Trial, i: int, **extra) -> dict:
    return {
        "mean_accuracy": i / 10,
        "training_iteration": i,
        "time_total_s": float(i),
        "done": False,
        "trial_id": trial.trial_id,
        "pid": 123,
        "config": trial.config,
        **extra,
    }


def feed(loggers, trial: Trial, results) -> None:
    for logger in loggers:
        logger.on_trial_start(0, [trial], trial)
    for r in results:
        for logger in loggers:
            logger.on_trial_result(0, [trial], trial, r)


def read_json_lines(trial: Trial) -> list[dict]:
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line) for line in f]


def read_csv_rows(trial: Trial) -> list[dict]:
    with open(os.path.join(trial.logdir, "progress.csv"), newline="") as f:
        return list(csv.DictReader(f))


# -- JSON ------------------------------------------------------------------------------------------
def test_result_json_has_one_line_per_result_equal_to_it(tmp_path):
    trial = make_trial(tmp_path)
    results = [result(trial, i) for i in range(1, 6)]
    logger = JsonLoggerCallback()
    feed([logger], trial, results)
    # flushed on every write: readable before the trial ends
    assert read_json_lines(trial) == results
    logger.on_trial_complete(0, [trial], trial)
    assert read_json_lines(trial) == results


def test_params_json_is_sorted_indented_and_follows_config_changes(tmp_path):
    trial = make_trial(tmp_path, config={"b": 2, "a": 1, "fn": print})
    logger = JsonLoggerCallback()
    feed([logger], trial, [result(trial, 1)])
    path = os.path.join(trial.logdir, "params.json")
    text = open(path).read()
    assert text == json.dumps({"a": 1, "b": 2, "fn": str(print)}, sort_keys=True, indent=2)
    trial.config = {"a": 5, "b": 2}  # e.g. a PBT exploit replaces the config
    logger.on_trial_result(0, [trial], trial, result(trial, 2))
    assert json.load(open(path)) == {"a": 5, "b": 2}


def test_encoding_keeps_infinity_and_converts_numpy_and_objects():
    line = dumps_result(
        {
            "inf": float("inf"),
            "ninf": -float("inf"),
            "nan": float("nan"),
            "f32": np.float32(0.5),
            "i64": np.int64(3),
            "b": np.bool_(True),
            "arr": np.arange(3),
            "obj": object,
            "nested": {(1, 2): "tuple key"},
        }
    )
    back = json.loads(line)
    assert back["inf"] == math.inf and back["ninf"] == -math.inf and math.isnan(back["nan"])
    assert back["f32"] == 0.5 and back["i64"] == 3 and back["b"] is True and back["arr"] == [0, 1, 2]
    assert back["obj"] == str(object)
    assert back["nested"] == {"(1, 2)": "tuple key"}
    assert "\n" not in line


def test_inf_survives_in_result_json(tmp_path):
    trial = make_trial(tmp_path)
    feed([JsonLoggerCallback()], trial, [result(trial, 1, mean_loss=float("inf"))])
    assert read_json_lines(trial)[0]["mean_loss"] == math.inf


def test_flatten_dict():
    assert flatten_dict({"a": {"b": 1, "c": {"d": 2}}, "e": {}, "f": 3}, exclude=("f",)) == {"a/b": 1, "a/c/d": 2, "e": {}}


# -- CSV -------------------------------------------------------------------------------------------
def test_progress_csv_flattens_and_leaves_config_out(tmp_path):
    trial = make_trial(tmp_path)
    feed([CSVLoggerCallback()], trial, [result(trial, i, info={"lr": 0.01 * i}) for i in (1, 2)])
    rows = read_csv_rows(trial)
    assert [r["training_iteration"] for r in rows] == ["1", "2"]
    assert rows[1]["info/lr"] == "0.02"
    assert not any(key.startswith("config") for key in rows[0])


def test_progress_csv_extends_header_for_new_keys(tmp_path):
    trial = make_trial(tmp_path)
    results = [result(trial, 1), result(trial, 2, extra_metric=7), result(trial, 3)]
    feed([CSVLoggerCallback()], trial, results)
    frame = pd.read_csv(os.path.join(trial.logdir, "progress.csv"))
    assert list(frame["training_iteration"]) == [1, 2, 3]
    assert list(frame.columns).index("extra_metric") == len(frame.columns) - 1
    assert frame["extra_metric"].isna().tolist() == [True, False, True]
    assert frame["extra_metric"][1] == 7
    header_lines = [line for line in open(os.path.join(trial.logdir, "progress.csv")) if line.startswith("mean_accuracy")]
    assert len(header_lines) == 1


def test_restart_appends_and_a_new_logger_reuses_the_header(tmp_path):
    trial = make_trial(tmp_path)
    first = [JsonLoggerCallback(), CSVLoggerCallback()]
    feed(first, trial, [result(trial, 1), result(trial, 2)])
    for logger in first:  # paused: started again later, possibly by a resumed driver
        logger.on_experiment_end([trial])
    second = [JsonLoggerCallback(), CSVLoggerCallback()]
    feed(second, trial, [result(trial, 3)])
    assert [r["training_iteration"] for r in read_json_lines(trial)] == [1, 2, 3]
    assert [r["training_iteration"] for r in read_csv_rows(trial)] == ["1", "2", "3"]


def test_restore_drops_results_after_the_checkpoint(tmp_path):
    trial = make_trial(tmp_path)
    loggers = [JsonLoggerCallback(), CSVLoggerCallback()]
    feed(loggers, trial, [result(trial, i) for i in range(1, 6)])
    for logger in loggers:  # crashed after iteration 5, restored from the checkpoint at iteration 3
        logger.on_trial_restore(trial, 3)
    feed(loggers, trial, [result(trial, i) for i in (4, 5, 6)])
    assert [r["training_iteration"] for r in read_json_lines(trial)] == [1, 2, 3, 4, 5, 6]
    assert [r["training_iteration"] for r in read_csv_rows(trial)] == ["1", "2", "3", "4", "5", "6"]


# -- file handles ----------------------------------------------------------------------------------
def test_files_are_closed_when_trials_end(tmp_path):
    loggers = [JsonLoggerCallback(), CSVLoggerCallback()]
    for n in range(200):
        trial = make_trial(tmp_path, tag=str(n))
        feed(loggers, trial, [result(trial, 1)])
        for logger in loggers:
            (logger.on_trial_complete if n % 2 else logger.on_trial_error)(0, [trial], trial)
            assert not logger._handles
    assert not loggers[0]._configs


def test_open_files_are_capped_for_many_live_trials(tmp_path):
    logger = JsonLoggerCallback()
    logger.max_open = 4
    trials = [make_trial(tmp_path, tag=str(n)) for n in range(10)]
    for i in (1, 2):
        for trial in trials:
            logger.on_trial_result(0, trials, trial, result(trial, i))
            assert len(logger._handles) <= 4
    assert all([r["training_iteration"] for r in read_json_lines(t)] == [1, 2] for t in trials)


def test_trial_without_logdir_is_ignored():
    trial = Trial("f", {})
    for logger in (JsonLoggerCallback(), CSVLoggerCallback()):
        logger.on_trial_start(0, [trial], trial)
        logger.on_trial_result(0, [trial], trial, result(trial, 1))
        assert not logger._handles


# -- TensorBoard -----------------------------------------------------------------------------------
def test_tensorboard_scalars_and_hparams_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    trial = make_trial(tmp_path, config={"lr": 0.1, "opt": {"name": "sgd"}, "layers": [1, 2]})
    logger = TBXLoggerCallback()
    feed([logger], trial, [result(trial, i, nested={"x": i * 2}, flag=True, note="text") for i in (1, 2, 3)])
    logger.on_trial_complete(0, [trial], trial)

    acc = EventAccumulator(trial.logdir)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert [(e.step, round(e.value, 5)) for e in acc.Scalars("ray/tune/mean_accuracy")] == [(1, 0.1), (2, 0.2), (3, 0.3)]
    assert [e.value for e in acc.Scalars("ray/tune/nested/x")] == [2, 4, 6]
    for skipped in ("pid", "done", "flag", "note", "trial_id", "config/lr"):
        assert f"ray/tune/{skipped}" not in tags

    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["lr"].number_value == 0.1
    assert start.hparams["opt/name"].string_value == "sgd"
    assert "layers" not in start.hparams
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert "ray/tune/mean_accuracy" in {m.name.tag for m in experiment.metric_infos}
    assert not logger._handles


def test_tensorboard_writer_reopened_in_the_same_second_keeps_earlier_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trial = make_trial(tmp_path)
    logger = TBXLoggerCallback()
    feed([logger], trial, [result(trial, 1), result(trial, 2)])
    logger.on_experiment_end([trial])  # closes the writer, as an LRU eviction would
    feed([logger], trial, [result(trial, 3)])
    logger.on_trial_complete(0, [trial], trial)
    acc = EventAccumulator(trial.logdir)
    acc.Reload()
    assert [e.step for e in acc.Scalars("ray/tune/mean_accuracy")] == [1, 2, 3]


def test_tensorboard_restore_purges_the_steps_after_the_checkpoint(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trial = make_trial(tmp_path)
    logger = TBXLoggerCallback()
    feed([logger], trial, [result(trial, i) for i in range(1, 6)])
    logger.on_trial_restore(trial, 3)
    feed([logger], trial, [result(trial, i, mean_accuracy=i) for i in (4, 5)])
    logger.on_trial_complete(0, [trial], trial)
    acc = EventAccumulator(trial.logdir)
    acc.Reload()
    points = [(e.step, round(e.value, 5)) for e in acc.Scalars("ray/tune/mean_accuracy")]
    assert points == [(1, 0.1), (2, 0.2), (3, 0.3), (4, 4.0), (5, 5.0)]
    assert len([n for n in os.listdir(trial.logdir) if "tfevents" in n]) == 2  # the first file is kept


def test_tensorboard_logger_imports_neither_torch_nor_cloud_clients_and_keeps_tbx_s3_writer():
    """tensorboardX imports torch and boto3 at once (seconds in the driver, before the first result): the
    logger keeps both out, and tensorboardX's own s3:// writer still finds boto3 when it is installed."""
    import subprocess
    import sys

    code = (
        "import sys, importlib.util\n"
        "from tunelab.loggers import TBXLoggerCallback\n"
        "TBXLoggerCallback()\n"
        "print(sorted(m for m in ('torch', 'boto3', 'botocore', 'google.cloud.storage') if m in sys.modules))\n"
        "import tensorboardX.record_writer as rw\n"
        "installed = importlib.util.find_spec('boto3') is not None\n"
        "assert rw.S3_ENABLED == installed, (rw.S3_ENABLED, installed)\n"
        "if installed:\n"
        "    import boto3\n"
        "    assert rw.boto3.client is boto3.client\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "ok"]


def test_tensorboard_event_records_match_tensorboardx(tmp_path):
    """The hand-encoded header, purge marker, scalars and HParams events are the TFRecords tensorboardX's
    own protobuf classes and masked CRC32C produce (wall times aside)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event, SessionLog
    from tensorboardX.record_writer import masked_crc32c

    trial = make_trial(tmp_path)
    logger = TBXLoggerCallback()
    feed([logger], trial, [result(trial, 1)])
    logger.on_trial_restore(trial, 0)
    logger.on_experiment_end([trial])
    feed([logger], trial, [result(trial, 1, mean_accuracy=2.0)])
    logger.on_trial_complete(0, [trial], trial)
    files = sorted(n for n in os.listdir(trial.logdir) if "tfevents" in n)
    assert len(files) == 2
    records = []
    for name in files:
        data = open(os.path.join(trial.logdir, name), "rb").read()
        while data:
            (length,) = struct.unpack("<Q", data[:8])
            assert struct.unpack("<I", data[8:12])[0] == masked_crc32c(data[:8])
            body = data[12:12 + length]
            assert struct.unpack("<I", data[12 + length:16 + length])[0] == masked_crc32c(body)
            records.append(body)
            data = data[16 + length:]
    events = [Event.FromString(body) for body in records]
    for body, event in zip(records, events):
        assert event.SerializeToString() == body  # canonical protobuf bytes, field by field
    assert [e.file_version for e in events if e.file_version] == ["brain.Event:2", "brain.Event:2"]
    purge = [e for e in events if e.HasField("session_log")]
    assert len(purge) == 1 and purge[0].step == 1 and purge[0].session_log.status == SessionLog.START
    assert any(v.tag == "_hparams_/session_start_info" for e in events for v in e.summary.value)


def test_tensorboard_logger_leaves_numpy_and_tensorboardx_out_until_a_trial_ends(tmp_path):
    """Writing event files needs neither numpy nor tensorboardX (0.1-0.3 s to import in the driver, before
    the first result) nor the crc32c package's __init__ (~0.1 s: only its C extension is loaded); the HParams
    summary when a trial ends imports tensorboardX."""
    import subprocess
    import sys

    code = (
        "import sys, os\n"
        "from tunelab.loggers import default_loggers\n"
        "from tunelab.trial import Trial\n"
        "loggers = default_loggers()\n"
        "trial = Trial('f', {'lr': 0.1}, experiment_tag='0')\n"
        f"trial.logdir = {str(tmp_path)!r}\n"
        "for i in (1, 2):\n"
        "    for logger in loggers:\n"
        "        logger.on_trial_result(0, [trial], trial, {'training_iteration': i, 'x': 0.5, 'trial_id': 't'})\n"
        "heavy = ('numpy', 'tensorboardX', 'google.protobuf', 'torch', 'boto3', 'crc32c', 'importlib.metadata')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "for logger in loggers:\n"
        "    logger.on_trial_complete(0, [trial], trial)\n"
        "print('tensorboardX.summary' in sys.modules)\n"
        "import crc32c\n"  # the package imports normally after its extension was loaded on its own
        "from tensorboardX.record_writer import masked_crc32c\n"
        "from tunelab.loggers import tbx_logger\n"
        "print(crc32c.crc32c(b'123456789') == 0xE3069283 and all(tbx_logger._MASKED_CRC32C(data) == masked_crc32c(data)\n"
        "      for data in (b'', b'123456789', bytes(range(256)) * 3)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "True", "True"]
    assert any("tfevents" in n for n in os.listdir(tmp_path))


# -- defaults --------------------------------------------------------------------------------------
def test_default_loggers_and_env_switch(monkeypatch):
    monkeypatch.delenv("TUNELAB_DISABLE_AUTO_LOGGERS", raising=False)
    kinds = [type(l) for l in default_loggers()]
    assert kinds == [JsonLoggerCallback, CSVLoggerCallback, TBXLoggerCallback]
    assert [type(l) for l in default_loggers(tensorboard=False)] == [JsonLoggerCallback, CSVLoggerCallback]
    monkeypatch.setenv("TUNELAB_DISABLE_AUTO_LOGGERS", "1")
    assert default_loggers() == []
    monkeypatch.setenv("TUNELAB_DISABLE_AUTO_LOGGERS", "tbx,csv")
    assert [type(l) for l in default_loggers()] == [JsonLoggerCallback]


def test_json_and_csv_cost_per_result_is_small(tmp_path):
    n = 2000
    trial = make_trial(tmp_path)
    loggers = [JsonLoggerCallback(), CSVLoggerCallback()]
    results = [result(trial, i) for i in range(1, n + 1)]
    start = time.perf_counter()
    feed(loggers, trial, results)
    per_result = (time.perf_counter() - start) / n
    assert per_result < 300e-6  # ~25 µs measured; a loose bound that still catches O(n) work per result
