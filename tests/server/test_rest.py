"""The REST server and client against a real experiment: real worker processes, real HTTP on 127.0.0.1."""
from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests

import tunelab
from tunelab import TuneError
from tunelab.schedulers import FIFOScheduler
from tunelab.trial import Trial
from tunelab.web_server import TuneClient, TuneServer

pytestmark = pytest.mark.timeout(30)

SPEC: dict[str, Any] = {"run": "served_loop", "config": {"x": {"grid_search": [1, 2]}}, "resources_per_trial": {"cpu": 1}}


def _register_loop() -> None:
    def served_loop(config):
        for i in range(400):  # runs until stopped; the bound only keeps a broken test from hanging
            tunelab.report(it=i, x=config.get("x"))
            time.sleep(0.02)

    tunelab.register_trainable("served_loop", served_loop)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except TuneError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _reporting(client: TuneClient) -> list[str]:
    """Statuses of the trials that have reported at least once."""
    return [t["status"] for t in client.get_all_trials()["trials"] if t["result"]]


class Live:
    """An experiment running in a background thread with its server on `port`."""

    def __init__(self, port: int, thread: threading.Thread, outcome: dict):
        self.port, self.thread, self.outcome = port, thread, outcome
        self.client = TuneClient(f"localhost:{port}")
        self.url = f"http://127.0.0.1:{port}"
        self.http = requests.Session()
        self.http.trust_env = False

    def stop_everything(self) -> None:
        for info in self.client.get_all_trials()["trials"]:
            if info["status"] not in (Trial.TERMINATED, Trial.ERROR):
                self.client.stop_trial(info["id"])

    def finish(self) -> Any:
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the experiment did not end"
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["result"]


@contextlib.contextmanager
def live_experiment(entry: str = "run_experiments") -> Iterator[Live]:
    """Start an experiment of two looping trials with its server; on exit stop what is left."""
    _register_loop()
    port = _free_port()
    outcome: dict = {}

    def target() -> None:
        try:
            if entry == "run":
                outcome["result"] = tunelab.run("served_loop", name="served", config=SPEC["config"],
                                                resources_per_trial={"cpu": 1}, with_server=True,
                                                server_port=port, verbose=0)
            else:
                outcome["result"] = tunelab.run_experiments({"served": SPEC}, with_server=True,
                                                            server_port=port, verbose=0)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    live = Live(port, thread, outcome)
    _wait_for(lambda: "error" in outcome or _reporting(live.client) == [Trial.RUNNING] * 2,
              "two RUNNING trials that have reported")
    try:
        yield live
    finally:
        with contextlib.suppress(TuneError):
            live.stop_everything()
        thread.join(timeout=10)


@pytest.fixture(autouse=True)
def four_cpus(fresh_executor):
    tunelab.init(num_cpus=4)


def test_client_lists_gets_adds_and_stops_trials():
    with live_experiment() as live:
        client = live.client
        trials = client.get_all_trials()["trials"]
        assert len(trials) == 2
        first = client.get_trial(trials[0]["id"])["trial"]
        assert first["id"] == trials[0]["id"] and first["trainable_name"] == "served_loop"
        assert first["config"] == {"x": 1} and first["experiment_tag"] == "0_x=1"
        assert set(first) == {"id", "trainable_name", "config", "status", "result", "experiment_tag", "logdir",
                              "num_failures", "error_file"}

        added = client.add_trial("added", {"run": "served_loop", "config": {"x": 7}})["trials"]
        assert [t["config"] for t in added] == [{"x": 7}] and added[0]["status"] == Trial.PENDING
        assert len(client.get_all_trials()["trials"]) == 3

        stopped = client.stop_trial(trials[0]["id"])["trial"]
        assert stopped["status"] == Trial.TERMINATED
        assert client.get_trial(trials[0]["id"])["trial"]["status"] == Trial.TERMINATED
        assert stopped["result"]["it"] >= 0  # the last result travels as plain JSON

        live.stop_everything()
        result = live.finish()
    assert sorted(t.trial_id for t in result) == sorted([trials[0]["id"], trials[1]["id"], added[0]["id"]])
    assert all(t.status == Trial.TERMINATED for t in result)
    with pytest.raises(TuneError, match="Could not reach"):  # the server ended with the experiment
        client.get_all_trials()


def test_error_answers():
    with live_experiment() as live:
        for method in ("GET", "PUT"):
            answer = live.http.request(method, f"{live.url}/trials/nope")
            assert answer.status_code == 404
            assert answer.json() == {"message": "Trial (nope) not found."}
        with pytest.raises(TuneError, match=r"Trial \(nope\) not found"):
            live.client.stop_trial("nope")

        bad = live.http.post(f"{live.url}/trials", json={"name": "bad", "spec": {"run": "served_loop", "bah": 1}})
        assert bad.status_code == 400 and "bah" in bad.json()["message"]
        with pytest.raises(TuneError, match="Unknown trainable 'asdf'"):
            live.client.add_trial("bad", {"run": "asdf"})
        assert live.http.post(f"{live.url}/trials", json={"spec": {}}).status_code == 400  # no name

        not_json = live.http.post(f"{live.url}/trials", data="{}", headers={"Content-Type": "text/plain"})
        assert not_json.status_code == 415
        rebound = live.http.get(f"{live.url}/trials", headers={"Host": "evil.example:4321"})
        assert rebound.status_code == 403
        assert live.http.delete(f"{live.url}/trials/x").status_code == 405
        assert live.http.get(f"{live.url}/nothing").status_code == 404
        assert len(live.client.get_all_trials()["trials"]) == 2  # nothing was added by the failures

        grid = live.client.add_trial("grid", {"run": "served_loop", "config": {"x": {"grid_search": [5, 6]},
                                                                                  "y": {"eval": "spec.config.x * 2"}}})
        assert [t["config"] for t in grid["trials"]] == [{"x": 5, "y": 10}, {"x": 6, "y": 12}]
        live.stop_everything()
        assert len(live.finish()) == 4


def test_seed_command_form_with_run():
    with live_experiment(entry="run") as live:
        def command(**body: Any) -> requests.Response:
            return live.http.get(f"{live.url}/", json=body)

        listed = command(command="GET_LIST")
        assert listed.status_code == 200 and len(listed.json()["trials"]) == 2
        trial_id = listed.json()["trials"][0]["id"]
        assert command(command="GET_TRIAL", trial_id=trial_id).json()["trial_info"]["id"] == trial_id
        missing = command(command="GET_TRIAL", trial_id="nope")
        assert missing.status_code == 400 and missing.json() == {"message": "Trial (nope) not found."}
        assert command(command="EXPLODE").status_code == 400

        added = command(command="ADD", name="more", spec={"run": "served_loop", "config": {"x": 3}})
        assert added.status_code == 200 and [t["config"] for t in added.json()["trials"]] == [{"x": 3}]
        assert len(command(command="GET_LIST").json()["trials"]) == 3
        assert command(command="ADD", name="bad", spec={"bah": 1}).status_code == 400

        for info in command(command="GET_LIST").json()["trials"]:
            stopped = command(command="STOP", trial_id=info["id"])
            assert stopped.status_code == 200 and stopped.json()["trial_info"]["status"] == Trial.TERMINATED
        analysis = live.finish()
    assert len(analysis.trials) == 3 and all(t.status == Trial.TERMINATED for t in analysis.trials)


def test_server_shuts_down_when_the_experiment_fails():
    _register_loop()
    port = _free_port()

    class Broken(FIFOScheduler):
        def on_trial_result(self, runner, trial, result):
            raise RuntimeError("scheduler bug")

    with pytest.raises(RuntimeError, match="scheduler bug"):
        tunelab.run_experiments({"broken": SPEC}, scheduler=Broken(), with_server=True, server_port=port, verbose=0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again


def test_busy_port_is_a_tune_error():
    _register_loop()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(TuneError, match=f"could not listen on 127.0.0.1:{port}"):
            tunelab.run_experiments({"busy": SPEC}, with_server=True, server_port=port, verbose=0)


def test_port_zero_picks_a_free_port_on_loopback_only():
    idle = SimpleNamespace(trial_views=list, queued_commands=list)  # a controller with no trials
    with TuneServer(idle, port=0) as server:  # type: ignore[arg-type]
        assert server.port > 0 and server.address == f"127.0.0.1:{server.port}"
        assert TuneClient(server.address).get_all_trials() == {"trials": []}
    for host in ("0.0.0.0", "", "example.com"):
        with pytest.raises(TuneError, match="loopback"):
            TuneServer(controller=None, port=0, host=host)  # type: ignore[arg-type]
    with pytest.raises(TuneError, match="server_port"):
        TuneServer(controller=None, port=-1)  # type: ignore[arg-type]


def test_client_addresses_and_missing_requests(monkeypatch):
    assert TuneClient().address == "127.0.0.1:4321"
    assert TuneClient("localhost:5000").address == "127.0.0.1:5000"
    assert TuneClient("localhost", port_forward=5001).address == "127.0.0.1:5001"
    assert TuneClient("http://10.0.0.2:8080/").address == "10.0.0.2:8080"
    with pytest.raises(TuneError, match="host:port"):
        TuneClient("localhost:http")
    assert tunelab.TuneClient is TuneClient
    monkeypatch.setitem(sys.modules, "requests", None)
    with pytest.raises(TuneError, match=r"pip install 'tunelab\[server\]'"):
        TuneClient()
