"""The Ray executor on a real Ray cluster that this module starts (`ray start --head` on 127.0.0.1): trials
as actors, lock-step results, checkpoints, pause and resume, PBT exploits, errors, SIGKILLed actors,
resource gating, and the env-var switch that moves an unchanged script onto the cluster."""
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from ray_cluster import RAY_TEST_ENV, apply_test_env, ray_env, restore_env, start_cluster

apply_test_env()  # before Ray is imported: Ray reads these once, at import (the fixtures apply it again)
ray = pytest.importorskip("ray")

import tunelab as tune  # noqa: E402 - after the skip: these tests need Ray
from tunelab import Trainable, TuneError  # noqa: E402
from tunelab.schedulers import AsyncHyperBandScheduler, HyperBandScheduler, PopulationBasedTraining  # noqa: E402
from tunelab.trial import Trial  # noqa: E402

__all__ = ["RAY_TEST_ENV", "cluster", "on_ray"]  # the fixtures other modules reuse (tests/faults/test_ray_port.py)


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU Ray head node on 127.0.0.1 for this module (with one `license`); its address."""
    saved = apply_test_env()  # again: another module's teardown may have restored the environment since import
    nodes = start_cluster("r", [{"num_cpus": 2, "resources": {"license": 1}, "scratch": False}])
    yield nodes.address
    tune.shutdown()
    if ray.is_initialized():
        ray.shutdown()
    nodes.shutdown()
    restore_env(saved)


@pytest.fixture
def on_ray(cluster):
    tune.init(executor="ray", address=cluster)
    yield cluster
    tune.init()  # back to the local executor (disconnects from the cluster)


def _report_where(config, reporter):
    import os

    for i in range(config.get("steps", 3)):
        reporter(mean_loss=config["x"] / (i + 1), pid=os.getpid(),
                 in_actor=os.environ.get("TUNELAB_WORKER"), cwd=os.getcwd())


class Counter(Trainable):
    def setup(self, config):
        self.count = 0

    def step(self):
        self.count += 1
        marker = self.config.get("die_at_marker")
        if marker and self.count == self.config["die_at"] and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        if self.config.get("raise_at") == self.count:
            raise RuntimeError("planned failure")
        return {"count": self.count, "score": self.count * self.config.get("rate", 1), "pid": os.getpid()}

    def save_checkpoint(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "state.json")
        with open(path, "w") as f:
            json.dump({"count": self.count}, f)
        return path

    def load_checkpoint(self, path):
        with open(path) as f:
            self.count = json.load(f)["count"]

    def reset_config(self, new_config):
        return True


def _history(trial, key):
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line)[key] for line in f]


def test_function_trials_run_as_actors_on_the_cluster(on_ray):
    analysis = tune.run(_report_where, config={"x": tune.grid_search([1, 2, 3, 4])}, verbose=0)
    trials = analysis.trials
    assert [t.status for t in trials] == [Trial.TERMINATED] * 4
    assert [t.last_result["mean_loss"] for t in trials] == [1 / 3, 2 / 3, 1.0, 4 / 3]
    assert all(_history(t, "training_iteration") == [1, 2, 3] for t in trials)
    assert all(t.last_result["in_actor"] == "1" for t in trials)
    assert all(t.last_result["cwd"] == t.logdir for t in trials)  # the actor works in the trial's folder
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    assert os.getpid() not in {t.last_result["pid"] for t in trials}
    executor = tune.api.get_executor()
    assert "Ray cluster" in executor.resource_summary()
    assert executor._address[0] == "127.0.0.1"  # the actors connect back to the driver on loopback


class _Planted:
    """Unpickling this would run code: the driver must never unpickle what a stranger sends."""

    def __reduce__(self):
        return (open, (os.environ["TUNELAB_PLANTED_FILE"], "w"))


def test_a_stranger_on_the_driver_port_is_dropped_unread(on_ray, tmp_path, monkeypatch):
    """Actors prove themselves with the executor's secret, in raw bytes, before any pickle is read; any
    other peer is disconnected, and what it sent is never unpickled."""
    from tunelab.execution.channel import Channel

    planted = tmp_path / "planted"
    monkeypatch.setenv("TUNELAB_PLANTED_FILE", str(planted))
    executor = tune.api.get_executor()
    strangers = [socket.create_connection(executor._address, timeout=10) for _ in range(2)]
    Channel(strangers[0]).send((_Planted(), "w0"))  # a pickle bomb where the handshake goes
    strangers[1].sendall(b"x" * 16 + b"\x00\x02w0")  # a well-formed handshake with the wrong secret
    analysis = tune.run(_report_where, config={"x": 1}, verbose=0)  # the loop accepts and drops them
    assert analysis.trials[0].status == Trial.TERMINATED
    for stranger in strangers:
        try:
            assert stranger.recv(1) == b""  # closed by the driver
        except ConnectionResetError:
            pass  # closed by the driver with the rest of what it sent unread (a reset)
        stranger.close()
    assert not planted.exists()


def test_resources_gate_actors_and_never_fitting_trials_fail_early(on_ray):
    analysis = tune.run(_report_where, config={"x": tune.grid_search([1, 2])}, verbose=0,
                        resources_per_trial={"cpu": 1, "custom_resources": {"license": 1}})
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 2
    with pytest.raises(TuneError, match="CPU"):
        tune.run(_report_where, config={"x": 1}, resources_per_trial={"cpu": 3}, verbose=0)


def test_error_trial_keeps_its_results_and_the_experiment_goes_on(on_ray):
    analysis = tune.run(Counter, config={"raise_at": tune.grid_search([2, None])}, stop={"training_iteration": 4},
                        verbose=0, raise_on_failed_trial=False)
    failed, fine = analysis.trials
    assert failed.status == Trial.ERROR and fine.status == Trial.TERMINATED
    assert _history(failed, "count") == [1]
    assert "planned failure" in open(failed.error_file).read()


def test_sigkilled_actor_recovers_from_its_checkpoint(on_ray, tmp_path):
    marker = str(tmp_path / "died")
    analysis = tune.run(Counter, config={"die_at_marker": marker, "die_at": 7}, stop={"training_iteration": 10},
                        checkpoint_freq=3, max_failures=1, verbose=0)
    [trial] = analysis.trials
    assert trial.status == Trial.TERMINATED and trial.num_failures == 1
    assert _history(trial, "training_iteration") == list(range(1, 11))  # no gap, no duplicate
    assert _history(trial, "count") == list(range(1, 11))  # state restored from checkpoint 6
    assert len(set(_history(trial, "pid"))) == 2  # a new actor took over
    assert "WorkerDied" in open(trial.error_file).read()


def test_promotion_asha_pauses_and_resumes_actors_from_checkpoints(on_ray):
    asha = AsyncHyperBandScheduler(metric="score", mode="max", max_t=9, grace_period=1, reduction_factor=3,
                                   brackets=1, type="promotion")
    analysis = tune.run(Counter, config={"rate": tune.grid_search(list(range(1, 10)))},
                        stop={"training_iteration": 9}, scheduler=asha, verbose=0)
    best = max(analysis.trials, key=lambda t: t.config["rate"])
    assert best.last_result["training_iteration"] == 9
    assert _history(best, "count") == list(range(1, 10))  # paused at rungs, restored without losing state
    assert sum(t.last_result["training_iteration"] for t in analysis.trials) < 9 * 9


def test_hyperband_and_pbt_on_actors(on_ray):
    hyperband = HyperBandScheduler(metric="score", mode="max", max_t=9)
    analysis = tune.run(Counter, config={"rate": tune.grid_search(list(range(1, 6)))}, scheduler=hyperband,
                        verbose=0)
    assert all(t.status == Trial.TERMINATED for t in analysis.trials)
    assert max(analysis.trials, key=lambda t: t.config["rate"]).last_result["training_iteration"] == 9

    pbt = PopulationBasedTraining(time_attr="training_iteration", metric="score", mode="max",
                                  perturbation_interval=2, hyperparam_mutations={"rate": [1, 2, 3, 4]})
    analysis = tune.run(Counter, config={"rate": tune.grid_search([1, 2, 3, 4])}, stop={"training_iteration": 8},
                        scheduler=pbt, verbose=0)
    assert all(t.last_result["training_iteration"] == 8 for t in analysis.trials)
    assert any("@perturbed" in t.experiment_tag for t in analysis.trials)


def test_an_unchanged_script_moves_to_the_cluster_with_env_vars(cluster, tmp_path):
    script = tmp_path / "seed_script.py"
    script.write_text(textwrap.dedent("""
        import os
        import tunelab as tune

        def train(config, reporter):
            reporter(mean_accuracy=config["lr"] * 10, where=os.environ.get("TUNELAB_WORKER"))

        trials = tune.run_experiments({"exp": {"run": train, "config": {"lr": tune.grid_search([0.1, 0.2])}}},
                                      verbose=0)
        print(type(tune.api.get_executor()).__name__, sorted(t.last_result["mean_accuracy"] for t in trials))
    """))
    env = ray_env()
    env.update(TUNELAB_EXECUTOR="ray", TUNELAB_ADDRESS=cluster, TUNELAB_RESULTS_DIR=str(tmp_path / "results"))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "RayExecutor [1.0, 2.0]" in done.stdout


def test_without_an_address_ray_starts_on_loopback_only(tmp_path):
    script = tmp_path / "own_ray.py"
    script.write_text(textwrap.dedent("""
        import ray
        import tunelab as tune

        def train(config, reporter):
            reporter(done=True, value=1)

        tune.init(executor="ray", num_cpus=1)
        [trial] = tune.run(train, verbose=0).trials
        print(trial.status, sorted({node["NodeManagerAddress"] for node in ray.nodes()}))
        tune.shutdown()
        print("connected after shutdown:", ray.is_initialized())
    """))
    env = ray_env()
    env.pop("RAY_ADDRESS", None)
    env.update(TUNELAB_RESULTS_DIR=str(tmp_path / "results"))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "TERMINATED ['127.0.0.1']" in done.stdout
    assert "connected after shutdown: False" in done.stdout


def test_bad_executor_and_address_are_clear_errors():
    with pytest.raises(TuneError, match="allowed: \\['local', 'ray'\\]"):
        tune.init(executor="spark")
    tune.init(address="127.0.0.1:1")
    try:
        with pytest.raises(TuneError, match="needs executor='ray'"):
            tune.api.get_executor()
    finally:
        tune.init()


def test_a_trial_must_fit_on_one_node():
    """Cluster totals are not enough: an actor runs on one node (the rule, on Ray's per-node resources)."""
    from tunelab.execution.ray_executor import no_node_fits

    nodes = [{"CPU": 4.0, "GPU": 1.0}, {"CPU": 4.0, "license": 1.0}]
    assert no_node_fits({"CPU": 4, "GPU": 1}, nodes) is None
    assert no_node_fits({"CPU": 2, "GPU": 0, "license": 1}, nodes) is None
    problem = no_node_fits({"CPU": 6, "GPU": 0}, nodes)
    assert "6 CPU" in problem and "the largest has 4 CPU" in problem and "one node" in problem
    assert no_node_fits({"CPU": 1, "GPU": 1, "license": 1}, nodes) is not None  # GPU and license never meet


@pytest.mark.timeout(300)
def test_a_killed_driver_resumes_on_the_cluster(cluster, tmp_path):
    """SIGKILL the driver (its actors die with it) a few times; `resume="AUTO"` finishes every trial with a
    gap-free, duplicate-free history (the resume tests' driver script, moved to Ray by env vars)."""
    import random
    import time

    driver = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resume", "kill_driver.py")
    env = ray_env()
    env.update(TUNELAB_EXECUTOR="ray", TUNELAB_ADDRESS=cluster)
    rng, kills, iterations = random.Random(3), 0, 60
    while True:
        proc = subprocess.Popen([sys.executable, driver, str(tmp_path), "function", str(iterations)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if kills < 3:
            time.sleep(rng.uniform(2.0, 3.5))  # past Ray's connection and the first reports
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        break
    assert kills >= 1
    statuses = json.loads(out.strip().splitlines()[-1])
    assert len(statuses) == 3 and set(statuses.values()) == {"TERMINATED"}
    exp_dir = tmp_path / "killed"
    for name in os.listdir(exp_dir):
        if not os.path.exists(exp_dir / name / "result.json"):
            continue
        with open(exp_dir / name / "result.json") as f:
            results = [json.loads(line) for line in f]
        assert [r["i"] for r in results] == list(range(1, iterations + 1))
        assert results[-1]["value"] == iterations * results[-1]["config"]["a"]


def test_ray_executor_without_ray_says_how_to_install_it():
    script = textwrap.dedent("""
        import sys

        class NoRay:
            def find_spec(self, name, path=None, target=None):
                if name == "ray" or name.startswith("ray."):
                    raise ImportError("No module named 'ray'")

        sys.meta_path.insert(0, NoRay())
        import tunelab as tune

        try:
            tune.init(executor="ray")
        except tune.TuneError as e:
            print("TuneError:", e)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "TuneError: executor='ray' needs Ray" in done.stdout and "pip install 'tunelab[ray]'" in done.stdout
