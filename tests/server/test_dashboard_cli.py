"""`tunelab dashboard <folder>`: a finished experiment served read-only from its files, in a real process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

import tunelab
from tunelab.cli import main

from .live import free_port, wait_for

pytestmark = pytest.mark.timeout(60)


def short_run(config):
    for i in range(4):
        tunelab.report(loss=config["lr"] / (i + 1))


def test_dashboard_serves_a_finished_experiment_read_only(results_dir):
    analysis = tunelab.run(short_run, name="done", config={"lr": tunelab.grid_search([0.1, 0.2, 0.4])},
                           local_dir=results_dir, verbose=0)
    folder = os.path.join(results_dir, "done")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen([sys.executable, "-m", "tunelab", "dashboard", folder, "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        http = requests.Session()
        http.trust_env = False
        url = f"http://127.0.0.1:{port}"
        trials = wait_for(lambda: http.get(f"{url}/trials", timeout=5).json()["trials"], "the dashboard to answer")
        assert sorted(t["id"] for t in trials) == sorted(t.trial_id for t in analysis.trials)
        assert all(t["status"] == "TERMINATED" and t["result"]["training_iteration"] == 4 for t in trials)
        assert http.get(f"{url}/info").json() == {"read_only": True, "experiment": "done"}
        assert "<title>tunelab dashboard</title>" in http.get(f"{url}/").text
        curve = http.get(f"{url}/trials/{trials[0]['id']}/results").json()["results"]
        assert [r["training_iteration"] for r in curve] == [1, 2, 3, 4]
        best = http.get(f"{url}/best", params={"metric": "loss", "mode": "min"}).json()["points"]
        assert best and best[-1]["value"] == pytest.approx(0.1 / 4)
        importance = http.get(f"{url}/importance", params={"metric": "loss", "mode": "min"}).json()
        assert importance["importance"] == {"lr": pytest.approx(1.0)}

        stop = http.put(f"{url}/trials/{trials[0]['id']}")
        assert stop.status_code == 405 and "read-only" in stop.json()["message"]
        add = http.post(f"{url}/trials", json={"name": "x", "spec": {"run": "short_run"}})
        assert add.status_code == 405 and "adding trials is not possible here" in add.json()["message"]
        assert http.get(f"{url}/trials/nope").status_code == 404
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert f"127.0.0.1:{port}" in output and "read-only" in output


def test_dashboard_refuses_an_empty_storage_uri_and_a_folder_without_trials(tmp_path, capsys):
    assert main(["dashboard", "memory://nothing/experiment"]) == 2
    assert "no experiment in storage there" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path), "--port", "0"]) == 2
    assert "no trial folders" in capsys.readouterr().err


def test_best_so_far_reads_a_growing_result_file_incrementally(tmp_path):
    """A folder an experiment elsewhere is still writing: a line being written is not read until it ends."""
    from tunelab.server.gateway import FolderGateway

    trial_dir = tmp_path / "exp" / "train_0_a1b2c"
    trial_dir.mkdir(parents=True)
    (trial_dir / "params.json").write_text(json.dumps({"lr": 0.1}))
    lines = [json.dumps({"loss": loss, "timestamp": t, "trial_id": "a1b2c", "training_iteration": i + 1})
             for i, (t, loss) in enumerate([(10, 0.5), (11, 0.7), (12, 0.3), (13, 0.2)])]
    result = trial_dir / "result.json"
    result.write_text("\n".join(lines[:3]) + "\n" + lines[3][:10])  # the last line is half written
    reader = FolderGateway(str(tmp_path / "exp"))
    assert reader.best_so_far("loss", "min") == [{"time": 10.0, "value": 0.5, "trial": "a1b2c"},
                                                 {"time": 12.0, "value": 0.3, "trial": "a1b2c"}]
    assert reader.best_so_far("loss", "max") == [{"time": 10.0, "value": 0.5, "trial": "a1b2c"},
                                                 {"time": 11.0, "value": 0.7, "trial": "a1b2c"}]
    with open(result, "a") as f:
        f.write(lines[3][10:] + "\n")
    assert reader.best_so_far("loss", "min")[-1] == {"time": 13.0, "value": 0.2, "trial": "a1b2c"}
    result.write_text(lines[1] + "\n")  # rewritten (a restarted trial): read from the start again
    assert reader.best_so_far("loss", "min") == [{"time": 11.0, "value": 0.7, "trial": "a1b2c"}]
