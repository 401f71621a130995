"""The REST server under hostile load, against a real experiment on 127.0.0.1: hundreds of concurrent
clients while silent peers hold connections open, and an add of 10**7 trials."""
from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import tunelab
from tunelab.server import gateway, rest
from tunelab.trial import Trial

pytestmark = pytest.mark.timeout(60)

CLIENTS = 250
SILENT_PEERS = 300  # more than the server's concurrent request slots


def hostile_loop(config):
    for i in range(1000):  # runs until stopped; the bound only keeps a broken test from running on
        tunelab.report(it=i)
        time.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(port: int, method: str, path: str, body: Any = None, timeout: float = 30.0) -> tuple[int, dict]:
    """One HTTP request on its own connection; (status, JSON answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@contextlib.contextmanager
def serving() -> Iterator[int]:
    """An experiment of one looping trial with its server; its port. On exit every trial is stopped."""
    tunelab.register_trainable("hostile_loop", hostile_loop)
    port = _free_port()
    outcome: dict = {}

    def experiment() -> None:
        try:
            outcome["trials"] = tunelab.run("hostile_loop", name="hostile", with_server=True, server_port=port,
                                            verbose=0).trials
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=experiment, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while True:
        assert "error" not in outcome, outcome.get("error")
        assert time.monotonic() < deadline, "the experiment's trial never reported"
        with contextlib.suppress(OSError):
            status, body = _request(port, "GET", "/trials", timeout=5)
            if status == 200 and any(t["result"] for t in body["trials"]):
                break
        time.sleep(0.05)
    try:
        yield port
    finally:
        with contextlib.suppress(OSError):
            for trial in _request(port, "GET", "/trials")[1]["trials"]:
                if trial["status"] not in (Trial.TERMINATED, Trial.ERROR):
                    _request(port, "PUT", f"/trials/{trial['id']}")
        thread.join(timeout=20)
        assert not thread.is_alive(), "the experiment did not end"
        assert "error" not in outcome, outcome.get("error")


@pytest.fixture
def two_cpus(fresh_executor):
    tunelab.init(num_cpus=2)


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_hundreds_of_concurrent_clients_are_answered_while_silent_peers_are_dropped(two_cpus, monkeypatch):
    monkeypatch.setattr(rest._Handler, "timeout", 1.0)  # the per-connection timeout, shortened for the test
    with serving() as port:
        silent = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(SILENT_PEERS)]
        start = threading.Barrier(CLIENTS)
        answers: list[Any] = [None] * CLIENTS

        def client(i: int) -> None:
            start.wait()
            try:
                answers[i] = _request(port, "GET", "/trials" if i % 2 else f"/trials/{trial_id}")[0]
            except OSError as exc:
                answers[i] = exc

        trial_id = _request(port, "GET", "/trials")[1]["trials"][0]["id"]
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=45)
        assert answers == [200] * CLIENTS
        assert all(_closed_by_server(sock) for sock in silent)  # none holds a server thread for ever
        for sock in silent:
            sock.close()


def _rss_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", open("/proc/self/status").read()).group(1))


def test_an_add_of_ten_million_trials_is_refused_without_expanding_them(two_cpus):
    with serving() as port:
        before = _rss_kib("VmRSS")
        with contextlib.suppress(OSError):
            with open("/proc/self/clear_refs", "w") as f:  # restart the peak (VmHWM) count from now
                f.write("5")
        status, body = _request(port, "POST", "/trials",
                                {"name": "huge", "spec": {"run": "hostile_loop", "num_samples": 10**7}})
        assert status == 400
        assert "10000000" in body["message"] and str(gateway.MAX_TRIALS_PER_ADD) in body["message"]
        # the seed's command form, and a grid whose product is too large, are refused the same way
        grid = {"grid_search": list(range(1000))}
        status, body = _request(port, "GET", "/", {"command": "ADD", "name": "grid",
                                                   "spec": {"run": "hostile_loop", "config": {"a": grid, "b": grid}}})
        assert status == 400 and "1000000 trials" in body["message"]
        grown_mib = (_rss_kib("VmHWM") - before) / 1024
        assert grown_mib < 200, f"the driver grew by {grown_mib:.0f} MiB refusing the adds"

        status, body = _request(port, "POST", "/trials",
                                {"name": "small", "spec": {"run": "hostile_loop", "num_samples": 3}})
        assert status == 201 and len(body["trials"]) == 3
        assert len(_request(port, "GET", "/trials")[1]["trials"]) == 4  # nothing of the refused adds is there
