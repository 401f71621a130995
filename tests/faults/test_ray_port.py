"""The Ray executor's driver port under hostile peers: handshakes are read without blocking the event loop,
each within an overall deadline, so silent and trickling connections never stop results from flowing.
A real Ray cluster on 127.0.0.1 (the fixtures of tests/test_ray_executor.py), real sockets."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from tunelab.execution.ray_executor import _handshake, _Handshake
from tunelab.stopper import Stopper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
try:
    from test_ray_executor import RAY_TEST_ENV, cluster, on_ray  # noqa: F401 - the Ray cluster fixtures
except pytest.skip.Exception:  # Ray is not installed: only the socket-level tests run
    RAY_TEST_ENV, on_ray = {}, None


@pytest.fixture(scope="module", autouse=True)
def _ray_test_env():
    """The Ray settings of tests/test_ray_executor.py in this process, whichever module's cluster fixture
    (which restores the environment when it ends) ran before or runs after this one."""
    os.environ.update(RAY_TEST_ENV)
    yield
    os.environ.update(RAY_TEST_ENV)

pytestmark = pytest.mark.timeout(60)
needs_ray = pytest.mark.skipif(on_ray is None, reason="needs Ray")

TOKEN = os.urandom(16)
SILENT = 10
REPORTS = 40


def test_a_handshake_is_read_as_it_trickles_in_and_never_past_its_end():
    driver, peer = socket.socketpair()
    driver.setblocking(False)
    handshake = _Handshake(driver, TOKEN, deadline=time.monotonic() + 60)
    data = _handshake(TOKEN, "w7")
    for byte in data[:-1]:
        peer.sendall(bytes([byte]))
        assert handshake.read() is None  # incomplete: returns at once, nothing blocks
    peer.sendall(data[-1:] + b"next message")
    assert handshake.read() == "w7"
    assert driver.recv(100) == b"next message"  # left for the worker's channel
    driver.close()
    peer.close()


def test_a_peer_that_closes_mid_handshake_is_an_eof():
    driver, peer = socket.socketpair()
    driver.setblocking(False)
    handshake = _Handshake(driver, TOKEN, deadline=time.monotonic() + 60)
    peer.sendall(TOKEN[:5])
    assert handshake.read() is None
    peer.close()
    with pytest.raises(EOFError):
        handshake.read()
    driver.close()


def test_a_wrong_secret_is_refused_as_soon_as_it_is_in_without_reading_further():
    driver, peer = socket.socketpair()
    driver.setblocking(False)
    handshake = _Handshake(driver, TOKEN, deadline=time.monotonic() + 60)
    peer.sendall(bytes(16) + b"\xff\xff" + b"pickle")  # a wrong secret, a 64 KiB key announced, more bytes
    with pytest.raises(EOFError, match="secret"):
        handshake.read()  # refused at once, not after waiting for the key
    assert driver.recv(10) == b"pickle"  # what follows was never read
    driver.close()
    peer.close()


def _connect(address: tuple) -> socket.socket:
    sock = socket.create_connection(address, timeout=5)
    sock.setblocking(False)
    return sock


def _closed(sock: socket.socket) -> bool:
    """Whether the driver closed this (non-blocking) connection."""
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class _Hostile:
    """Until stopped: SILENT connections that never send a byte, and one that sends a byte every 1.5 s;
    each one the driver closes is opened again, so the pressure lasts the whole experiment."""

    def __init__(self, address: tuple):
        self.address = address
        self.done = threading.Event()
        self.closed_by_driver = 0
        self.threads = [threading.Thread(target=self._silent, daemon=True),
                        threading.Thread(target=self._trickle, daemon=True)]

    def __enter__(self) -> "_Hostile":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=10)

    def _silent(self) -> None:
        socks = [_connect(self.address) for _ in range(SILENT)]
        while not self.done.wait(0.1):
            for i, sock in enumerate(socks):
                if _closed(sock):
                    sock.close()
                    self.closed_by_driver += 1
                    socks[i] = _connect(self.address)
        for sock in socks:
            sock.close()

    def _trickle(self) -> None:
        while not self.done.is_set():
            with socket.create_connection(self.address, timeout=5) as sock:
                try:
                    while not self.done.wait(1.5):
                        sock.sendall(b"x")
                except OSError:
                    pass  # closed by the driver: connect again


def _reports(config):
    import time as _time

    import tunelab as _tune

    for i in range(REPORTS):  # runs past the hostile peers' handshake deadline
        _tune.report(step=i)
        _time.sleep(0.1)


@needs_ray
def test_results_keep_flowing_while_silent_and_trickling_peers_hold_the_driver_port(on_ray):
    import tunelab as tune
    from tunelab.execution import ray_executor
    from tunelab.trial import Trial

    executor = tune.api.get_executor()
    outcome: dict = {}

    def experiment() -> None:
        outcome["trials"] = tune.run(_reports, config={"x": tune.grid_search([1, 2])}, verbose=0).trials

    with _Hostile(executor._address) as hostile:
        time.sleep(0.5)  # the hostile peers are connected before the actors
        runner = threading.Thread(target=experiment, daemon=True)
        runner.start()
        runner.join(timeout=40)
        assert not runner.is_alive(), "results stopped flowing while hostile peers held the driver port"
        deadline = time.monotonic() + 5
        while hostile.closed_by_driver < SILENT and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hostile.closed_by_driver >= SILENT  # the driver closed them at their handshake deadline
        assert len(executor._handshakes) <= ray_executor.MAX_PENDING_HANDSHAKES
    trials = outcome["trials"]
    assert [t.status for t in trials] == [Trial.TERMINATED] * 2
    for trial in trials:  # every report of both trials is on disk, once
        lines = Path(trial.logdir, "result.json").read_text().splitlines()
        assert [json.loads(line)["step"] for line in lines] == list(range(REPORTS))


def _spin(config):
    from pathlib import Path as _Path

    _Path(config["pid_file"]).write_text(str(os.getpid()))
    while True:
        pass


class _StopAllOnceSpinning(Stopper):
    """A stopper that ends the experiment (as `time_budget_s` does) once the trial computes."""

    def __init__(self, pid_file: Path):
        self.pid_file = pid_file

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.pid_file.exists()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@needs_ray
def test_an_actor_spinning_on_a_stopped_trial_is_killed_and_replaced(on_ray, tmp_path, monkeypatch):
    import tunelab as tune
    from tunelab.trial import Trial

    monkeypatch.setenv("TUNELAB_STOP_GRACE_S", "1")
    pid_file = tmp_path / "spin.pid"
    [spun] = tune.run(_spin, config={"pid_file": str(pid_file)}, stop=_StopAllOnceSpinning(pid_file), verbose=0).trials
    assert spun.status == Trial.TERMINATED
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10  # ray.kill has been called; the actor's process exits
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid), "the actor spinning on a stopped trial was not killed"
    executor = tune.api.get_executor()
    assert all(w.trial is None and w.stopping is None for w in executor._workers)
    trials = tune.run(_reports_quickly, config={"x": tune.grid_search([1, 2])}, verbose=0).trials
    assert [t.status for t in trials] == [Trial.TERMINATED] * 2


def _reports_quickly(config):
    import tunelab as _tune

    for i in range(3):
        _tune.report(step=i)
