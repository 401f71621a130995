"""A trial stopped in the middle of a step: its worker is never given another trial before it acknowledged
the stop, one that does not within the grace period is SIGKILLed and replaced, and no worker is left
computing a stopped trial once `tune.run` returns. Real worker processes, real SIGKILL, real REST server."""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

import tunelab
from tunelab.api import get_executor
from tunelab.trial import Trial

pytestmark = pytest.mark.timeout(60)

GRACE_S = 1.0


@pytest.fixture
def short_grace(monkeypatch, fresh_executor):
    """One CPU, so that the next trial waits for the stopped one's worker, and a 1 s stop grace period."""
    monkeypatch.setenv("TUNELAB_STOP_GRACE_S", str(GRACE_S))
    tunelab.init(num_cpus=1)


def _pid_file(config: dict) -> Path:
    return Path(config["pids"]) / f"{os.getpid()}"


def spin(config):
    """Computes forever without ever reporting: it never reads a STOP."""
    _pid_file(config).write_text("spin")
    while True:
        pass


def ok(config):
    _pid_file(config).write_text("ok")
    for i in range(3):
        tunelab.report(mean_accuracy=i, pid=os.getpid())


class StopAllOnceSpinning(tunelab.Stopper):
    """Ends the experiment (as `time_budget_s` does) once a trial has started computing in `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return any(self.folder.iterdir())


def _alive(pid: int) -> bool:
    """Whether `pid` is a live (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _assert_no_worker_busy() -> None:
    """The executor's pooled workers are all idle (no trial, none stopping) and alive."""
    workers = get_executor()._workers
    assert all(w.trial is None and w.stopping is None for w in workers)
    assert all(w.proc.poll() is None for w in workers)


def test_a_spinning_trial_is_killed_and_the_next_run_completes(short_grace, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    [spun] = tunelab.run(spin, config={"pids": str(pids)}, stop=StopAllOnceSpinning(pids), verbose=0).trials
    assert spun.status == Trial.TERMINATED  # stopped as asked, not an error
    [spin_pid] = [int(p.name) for p in pids.iterdir() if p.read_text() == "spin"]
    assert not _alive(spin_pid), "the worker spinning on a stopped trial outlived tune.run"
    _assert_no_worker_busy()

    trials = tunelab.run(ok, config={"pids": str(pids)}, num_samples=2, verbose=0).trials
    assert [t.status for t in trials] == [Trial.TERMINATED] * 2
    assert all(t.last_result["mean_accuracy"] == 2 for t in trials)
    assert spin_pid not in {t.last_result["pid"] for t in trials}
    _assert_no_worker_busy()


class LongStep(tunelab.Trainable):
    """First step quick, the second computes for a minute (never reading a STOP meanwhile)."""

    def setup(self, config):
        (Path(config["pids"]) / str(os.getpid())).write_text(config["name"])

    def step(self):
        if self.iteration >= 1 and self.config["name"] == "long":
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                pass
        return {"score": self.iteration + 1, "pid": os.getpid()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_rest_stop_in_the_middle_of_a_step_lets_the_next_trial_run(short_grace, tmp_path):
    from tunelab.web_server import TuneClient

    pids = tmp_path / "pids"
    pids.mkdir()
    port = _free_port()
    outcome: dict = {}

    def experiment() -> None:
        outcome["trials"] = tunelab.run(
            LongStep, config={"pids": str(pids), "name": tunelab.grid_search(["long", "next"])},
            stop={"training_iteration": 3}, with_server=True, server_port=port, verbose=0).trials

    thread = threading.Thread(target=experiment, daemon=True)
    thread.start()
    client = TuneClient(f"127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    long_trial = None
    while long_trial is None:  # the long trial reported its first step: it now computes its second
        assert time.monotonic() < deadline, "the first trial never reported"
        try:
            trials = client.get_all_trials()["trials"]
        except Exception:  # noqa: BLE001 - the server is not up yet
            trials = []
        long_trial = next((t for t in trials if t["config"]["name"] == "long" and t["result"]), None)
        time.sleep(0.05)
    time.sleep(0.3)
    stopped = client.stop_trial(long_trial["id"])
    assert stopped["trial"]["status"] == Trial.TERMINATED
    thread.join(timeout=30)
    assert not thread.is_alive(), "the next trial never ran on the stopped trial's busy worker"

    by_name = {t.config["name"]: t for t in outcome["trials"]}
    assert by_name["long"].status == Trial.TERMINATED
    assert by_name["long"].last_result["score"] == 1  # what it reported before the stop is kept
    assert by_name["next"].status == Trial.TERMINATED
    assert by_name["next"].last_result["training_iteration"] == 3
    long_pid = by_name["long"].last_result["pid"]
    assert by_name["next"].last_result["pid"] != long_pid  # not given to the busy worker
    assert not _alive(long_pid), "the worker computing the stopped trial was not killed"
    _assert_no_worker_busy()


class SlowCleanup(tunelab.Trainable):
    """Stops cleanly, but its cleanup takes a while (well within the grace period)."""

    def step(self):
        return {"score": 1, "pid": os.getpid()}

    def cleanup(self):
        time.sleep(0.3)
        (Path(self.config["out"]) / f"cleaned-{os.getpid()}-{self.trial_id}").write_text("done")


def test_a_worker_that_acknowledges_within_the_grace_period_is_reused_not_killed(short_grace, tmp_path):
    trials = tunelab.run(SlowCleanup, config={"out": str(tmp_path)}, num_samples=3,
                         stop={"training_iteration": 1}, verbose=0).trials
    assert [t.status for t in trials] == [Trial.TERMINATED] * 3
    cleaned = sorted(p.name for p in tmp_path.glob("cleaned-*"))
    assert len(cleaned) == 3  # every cleanup ran to its end: none was cut short by a kill
    assert len({t.last_result["pid"] for t in trials}) == 1  # one worker served all three, one after another
    _assert_no_worker_busy()


def report_then_spin(config):
    tunelab.report(pid=os.getpid())
    while True:
        pass


class _CtrlC(tunelab.Callback):
    """Interrupts the experiment at the first result (as Ctrl-C would), while the trial goes on computing."""

    def __init__(self):
        self.pids: list[int] = []

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.pids.append(result["pid"])
        raise KeyboardInterrupt


def test_ctrl_c_leaves_no_worker_computing_a_trial(short_grace):
    ctrl_c = _CtrlC()
    with pytest.raises(KeyboardInterrupt):
        tunelab.run(report_then_spin, callbacks=[ctrl_c], verbose=0)
    [pid] = ctrl_c.pids
    assert not _alive(pid), "the worker computing the interrupted trial outlived tune.run"
    _assert_no_worker_busy()


def test_a_bad_grace_period_is_a_clear_error(monkeypatch):
    from tunelab import TuneError
    from tunelab.execution.local import LocalExecutor

    monkeypatch.setenv("TUNELAB_STOP_GRACE_S", "soon")
    with pytest.raises(TuneError, match="TUNELAB_STOP_GRACE_S must be a number of seconds >= 0, got 'soon'"):
        LocalExecutor(num_cpus=1)
