"""S3 storage that fails mid-run (the loopback server stopped under a running experiment): trials keep
running and finish, every result stays on local disk, the console and the status table say storage is
behind; when the server comes back, storage catches up."""
from __future__ import annotations

import json
import os
import time

import pytest
from moto_s3 import S3Server, checkpointed_trials, driver_env, last_json_line, read_log, start_driver, wait_for

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

ITERATIONS = 60

#: short retries (the defaults make an outage cost ~25 s per operation before it is declared)
FAST_FAILURE = {"TUNELAB_STORAGE_RETRIES": "2", "TUNELAB_STORAGE_BACKOFF_S": "0.05", "TUNELAB_STORAGE_PAUSE_S": "1",
                "AWS_MAX_ATTEMPTS": "1", "TUNELAB_STATUS_INTERVAL_S": "0.5"}


@pytest.fixture(scope="module")
def s3():
    server = S3Server()
    yield server
    if server.up:
        server.stop()


def _local_results(exp_dir):
    out = {}
    for name in sorted(os.listdir(exp_dir)):
        path = os.path.join(exp_dir, name, "result.json")
        if os.path.exists(path):
            with open(path) as f:
                out[name] = [json.loads(line) for line in f]
    return out


def _lines(path):
    with open(path) as f:
        return sum(1 for _ in f)


def _start_and_break_storage(s3, tmp_path):
    """A driver running 3 trials with S3 storage; once each has a checkpoint in S3, the server stops. Returns
    (proc, log, bucket, local experiment folder) once the driver has said storage failed and trials have
    reported more results while it was down."""
    bucket = s3.new_bucket()
    log = str(tmp_path / "driver.log")
    exp_dir = tmp_path / "results" / "s3exp"
    proc = start_driver(driver_env(s3, **FAST_FAILURE), log, str(tmp_path / "results"), f"s3://{bucket}/p",
                        "function", str(ITERATIONS), "fresh", "0.1")
    wait_for(lambda: len(checkpointed_trials(s3.journal(bucket, "p/s3exp"))) == 3, 60,
             "a checkpoint of every trial in S3", proc, log)
    s3.stop()
    wait_for(lambda: "failed" in read_log(log), 60, "the driver to say storage failed", proc, log)
    counts = {name: len(rows) for name, rows in _local_results(exp_dir).items()}
    # the trials go on while storage is down (results reach the local folder)
    wait_for(lambda: all(_lines(exp_dir / name / "result.json") > n for name, n in counts.items()),
             60, "more results while storage is down", proc, log)
    return proc, log, bucket, exp_dir


def _assert_complete_locally(exp_dir, statuses):
    assert len(statuses) == 3 and set(statuses.values()) == {"TERMINATED"}
    histories = _local_results(exp_dir)
    assert len(histories) == 3
    for results in histories.values():
        assert [r["training_iteration"] for r in results] == list(range(1, ITERATIONS + 1))
    return histories


@pytest.mark.timeout(180)
def test_storage_down_then_back_catches_up(s3, tmp_path):
    proc, log, bucket, exp_dir = _start_and_break_storage(s3, tmp_path)
    wait_for(lambda: "Storage is behind: storage s3://" in read_log(log), 30,
             "the status table to say storage is behind", proc, log)
    assert proc.poll() is None, "the experiment must still be running while storage is down"
    s3.restart()
    assert proc.wait(timeout=120) == 0, read_log(log)[-4000:]
    text = read_log(log)
    local = _assert_complete_locally(exp_dir, last_json_line(log))
    assert "is reachable again" in text and "is not up to date" not in text
    # caught up: storage holds every result, the journal, and the trials' final checkpoints
    in_s3 = s3.results(bucket, "p/s3exp/")
    assert in_s3 == local
    keys = s3.keys(bucket, "p/s3exp/")
    assert "p/s3exp/.tunelab/journal.jsonl" in keys
    final = [e for e in s3.journal(bucket, "p/s3exp") if e.get("event") == "status"]
    assert {e["trial_id"] for e in final if e["status"] == "TERMINATED"} == {r[0]["trial_id"] for r in local.values()}
    # what S3 held before the outage is still there (nothing already written is lost)
    assert all(any(k.startswith(f"p/s3exp/{name}/checkpoint_") for k in keys) for name in local)


@pytest.mark.timeout(180)
def test_storage_down_to_the_end_keeps_every_result_locally(s3, tmp_path):
    try:
        proc, log, bucket, exp_dir = _start_and_break_storage(s3, tmp_path)
        started = time.monotonic()
        assert proc.wait(timeout=120) == 0, read_log(log)[-4000:]
        _assert_complete_locally(exp_dir, last_json_line(log))
        text = read_log(log)
        assert "is not up to date" in text and str(exp_dir) in text  # where the results are
        assert "stays on this node only" in text  # the workers' checkpoints too
        assert time.monotonic() - started < 60
    finally:
        if not s3.up:
            s3.restart()
    # storage has what it got before the outage, complete files only
    before = s3.results(bucket, "p/s3exp/")
    for results in before.values():
        assert [r["training_iteration"] for r in results] == list(range(1, len(results) + 1))
        assert 0 < len(results) < ITERATIONS
    # storage back: resuming the finished experiment on this machine copies it up, rerunning nothing
    local = _local_results(exp_dir)
    log2 = str(tmp_path / "resume.log")
    proc = start_driver(driver_env(s3, **FAST_FAILURE), log2, str(tmp_path / "results"), f"s3://{bucket}/p",
                        "function", str(ITERATIONS), "resume", "0.1")
    assert proc.wait(timeout=120) == 0, read_log(log2)[-4000:]
    assert set(last_json_line(log2).values()) == {"TERMINATED"}
    assert _local_results(exp_dir) == local
    assert s3.results(bucket, "p/s3exp/") == local
