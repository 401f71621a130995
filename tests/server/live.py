"""An experiment running in a background thread with its server on 127.0.0.1, for the server tests."""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

import tunelab
from tunelab.trial import Trial

FINISHED = (Trial.TERMINATED, Trial.ERROR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (requests.RequestException, KeyError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def looping_trainable(config: dict) -> None:
    """Reports `loss` until stopped (the bound only keeps a broken test from running on)."""
    for i in range(3000):
        tunelab.report(loss=config["lr"] * 10 / (i + 1) + config.get("depth", 1) * 0.01, it=i)
        time.sleep(0.02)


class Live:
    """The running experiment: `url`, a `requests` session that ignores proxies, and the outcome."""

    def __init__(self, port: int, thread: threading.Thread, outcome: dict, token: str | None):
        self.port, self.thread, self.outcome = port, thread, outcome
        self.url = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        self.http.trust_env = False
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def trials(self) -> list[dict]:
        return self.http.get(f"{self.url}/trials", timeout=10).json()["trials"]

    def status(self, trial_id: str) -> str:
        return self.http.get(f"{self.url}/trials/{trial_id}", timeout=10).json()["trial"]["status"]

    def stop_everything(self) -> None:
        for info in self.trials():
            if info["status"] not in FINISHED:
                self.http.put(f"{self.url}/trials/{info['id']}", timeout=30)

    def finish(self) -> Any:
        """Wait for the experiment to end; its trials (an error in the experiment is raised here)."""
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "the experiment did not end"
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["result"]


@contextlib.contextmanager
def running(config: dict, name: str = "dash", token: str | None = None, reporting: int | None = None) -> Iterator[Live]:
    """`tunelab.run(looping_trainable, config=config, with_server=True)` in a thread, until `reporting`
    trials (default: all) have reported; on exit, stop what is left and wait for the end."""
    tunelab.register_trainable("looping_trainable", looping_trainable)
    port = free_port()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = tunelab.run("looping_trainable", name=name, config=config, with_server=True,
                                            server_port=port, server_token=token, verbose=0)
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    live = Live(port, thread, outcome, token)
    count = reporting

    def ready() -> bool:
        if "error" in outcome:
            raise AssertionError(f"the experiment failed: {outcome['error']!r}")
        trials = live.trials()
        return len([t for t in trials if t["result"]]) >= (count or len(trials)) > 0

    wait_for(ready, "trials that have reported")
    try:
        yield live
    finally:
        with contextlib.suppress(requests.RequestException):
            live.stop_everything()
        thread.join(timeout=20)
