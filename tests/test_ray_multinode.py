"""Node loss on a real two-node Ray cluster on this machine (tests/ray_cluster.py: two `ray start`s, each
with its own temp dir, ports, resources and scratch folder): a node SIGKILLed mid-run costs its trials a
restore from their checkpoints, not the run; trials that fit only on a lost node wait PENDING until a node
joins; a lost head stops the experiment resumably; and a folder one node does not see is found (and refused
as `local_dir`)."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from ray_cluster import apply_test_env, ray_env, restore_env, start_cluster

apply_test_env()  # before Ray is imported: Ray reads these once, at import (the fixtures apply it again)
ray = pytest.importorskip("ray")

import tunelab as tune  # noqa: E402 - after the skip: these tests need Ray
from tunelab import Callback, Trainable, TuneError  # noqa: E402
from tunelab.trial import Trial  # noqa: E402

pytestmark = pytest.mark.timeout(240)

#: hidden from the second node by a mount of its own (as a folder on another machine would be)
HIDDEN = f"/tmp/tlhidden_{os.getpid()}"
#: whether this machine lets a process have mounts of its own (an unprivileged user namespace)
PRIVATE_MOUNTS = shutil.which("unshare") is not None and subprocess.run(
    ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def nodes():
    """A head with 1 CPU and a second node with 2 CPUs and 2 `node_b`, which does not see HIDDEN."""
    os.makedirs(HIDDEN, exist_ok=True)
    saved = apply_test_env()  # again: another module's teardown may have restored the environment since import
    try:
        cluster = start_cluster("m", [{"num_cpus": 1},
                                      {"num_cpus": 2, "resources": {"node_b": 2},
                                       "private_dirs": (HIDDEN,) if PRIVATE_MOUNTS else ()}])
        yield cluster
        tune.shutdown()
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    finally:
        shutil.rmtree(HIDDEN, ignore_errors=True)
        restore_env(saved)


@pytest.fixture
def on_nodes(nodes):
    tune.init(executor="ray", address=nodes.address)
    yield nodes
    tune.init()  # back to the local executor (disconnects from the cluster)


class Counter(Trainable):
    """Counts; says which node's scratch folder it runs with, its pid, and where it was restored from."""

    def setup(self, config):
        self.count = 0
        self.restored_at = 0

    def step(self):
        time.sleep(self.config.get("sleep", 0.1))
        self.count += 1
        return {"count": self.count, "pid": os.getpid(), "restored_at": self.restored_at,
                "scratch": os.environ.get("TUNELAB_SCRATCH_DIR")}

    def save_checkpoint(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "state.json")
        with open(path, "w") as f:
            json.dump({"count": self.count}, f)
        return path

    def load_checkpoint(self, path):
        with open(path) as f:
            self.count = self.restored_at = json.load(f)["count"]


class KillNodeAt(Callback):
    """SIGKILLs a node (and deletes its scratch) when a trial running there reports iteration `at`."""

    def __init__(self, cluster, node, at):
        self.cluster, self.node, self.at = cluster, node, at
        self.killed_at = None
        self.victims = set()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result.get("scratch") == self.node.scratch:
            self.victims.add(trial.trial_id)
            if self.killed_at is None and result["training_iteration"] >= self.at:
                assert self.cluster.kill_node(self.node) > 0
                self.killed_at, self.trigger = time.monotonic(), trial.trial_id


def _history(trial):
    with open(os.path.join(trial.logdir, "result.json")) as f:
        return [json.loads(line) for line in f]


@pytest.mark.skipif(not PRIVATE_MOUNTS, reason="needs `unshare --user --mount` to hide a folder from a node")
def test_nodes_that_do_not_see_local_dir_are_found_and_the_run_refused(on_nodes, tmp_path):
    executor = tune.api.get_executor()
    scratches = {n.scratch for n in on_nodes.nodes if n.alive}
    # one machine: both nodes see tmp_path, but each runs trials in its own scratch folder, so they do not share it
    assert {m["scratch"] for m in executor.nodes_not_seeing(str(tmp_path))} == scratches
    missing = {m["scratch"]: m for m in executor.nodes_not_seeing(HIDDEN)}
    second = on_nodes.nodes[1]
    assert second.scratch in missing  # the node's own TUNELAB_SCRATCH_DIR, reported
    assert missing[second.scratch]["node_id"] in {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    with pytest.raises(TuneError, match=r"own TUNELAB_SCRATCH_DIR.*do not see local_dir .*tlhidden.*storage_path=\.\.\."):
        tune.run(Counter, stop={"training_iteration": 1}, local_dir=HIDDEN, verbose=0)
    assert not [name for name in os.listdir(HIDDEN) if not name.startswith(".")]  # refused before anything ran
    # with storage, nodes need not share a folder: the same run goes ahead
    analysis = tune.run(Counter, stop={"training_iteration": 1}, local_dir=str(tmp_path / "driver"),
                        storage_path=str(tmp_path / "storage"), verbose=0)
    assert analysis.trials[0].status == Trial.TERMINATED


# -- no shared filesystem: each node works in its own scratch folder, storage is all they share ------------
def seed_train_func(config, reporter):
    """The seed's quick-start function, with a model that learns in a few steps."""
    accuracy = 0.0
    for _ in range(60):  # reaches 99 within 48 steps: the stop condition ends every trial
        time.sleep(0.02)
        accuracy = min(100.0, accuracy + 10 * config["lr"] + config["momentum"])
        reporter(mean_accuracy=accuracy, scratch=os.environ.get("TUNELAB_SCRATCH_DIR"))


def test_the_seed_quick_start_runs_on_two_nodes_with_upload_dir(on_nodes, tmp_path):
    tune.register_trainable("train_func", seed_train_func)
    trials = tune.run_experiments({"my_experiment": {
        "run": "train_func", "stop": {"mean_accuracy": 99}, "local_dir": str(tmp_path / "driver"),
        "upload_dir": str(tmp_path / "storage"),
        "config": {"lr": tune.grid_search([0.2, 0.4, 0.6]), "momentum": tune.grid_search([0.1, 0.2])}}}, verbose=0)
    assert [t.status for t in trials] == [Trial.TERMINATED] * 6
    assert all(t.last_result["mean_accuracy"] >= 99 for t in trials)
    stored = tmp_path / "storage" / "my_experiment"
    assert len(list(stored.glob("*/result.json"))) == 6 and (stored / ".tunelab" / "journal.jsonl").exists()
    used = {t.last_result["scratch"] for t in trials}
    assert used <= {n.scratch for n in on_nodes.nodes} and len(used) == 2  # both nodes ran trials


def asha_train(config):
    checkpoint = tune.get_checkpoint()
    step = checkpoint.to_dict()["step"] if checkpoint else 0
    while step < 12:
        step += 1
        time.sleep(0.05)
        tune.report({"loss": (config["x"] - 3) ** 2 + 1.0 / step, "scratch": os.environ.get("TUNELAB_SCRATCH_DIR")},
                    checkpoint=tune.Checkpoint.from_dict({"step": step}))


def test_asha_with_hyperopt_and_checkpoints_across_nodes(on_nodes, tmp_path):
    from tunelab.schedulers import ASHAScheduler
    from tunelab.search.hyperopt import HyperOptSearch

    analysis = tune.run(asha_train, config={"x": tune.uniform(0, 6)}, num_samples=8, metric="loss", mode="min",
                        search_alg=HyperOptSearch(random_state_seed=1),
                        scheduler=ASHAScheduler(max_t=12, grace_period=2, reduction_factor=2),
                        local_dir=str(tmp_path / "driver"), storage_path=str(tmp_path / "storage"), verbose=0)
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 8
    iterations = [t.last_result["training_iteration"] for t in analysis.trials]
    assert max(iterations) == 12 and min(iterations) < 12  # ASHA stopped some early
    assert len({t.last_result["scratch"] for t in analysis.trials}) == 2
    for trial in analysis.trials:  # every reported checkpoint is in storage, none in the driver's folder
        stored = tmp_path / "storage" / trial.experiment_name / os.path.basename(trial.logdir)
        assert (stored / f"checkpoint_{trial.last_result['training_iteration']}").is_dir()
        assert not list((tmp_path / "driver").glob("*/*/checkpoint_*"))


class RateCounter(Trainable):
    """Adds `rate` each step; its checkpoint says on which node's scratch it was written."""

    def setup(self, config):
        self.value, self.loaded_from, self.loaded_value = 0, None, None

    def step(self):
        time.sleep(0.1)
        self.value += self.config["rate"]
        return {"value": self.value, "scratch": os.environ.get("TUNELAB_SCRATCH_DIR"),
                "loaded_from": self.loaded_from, "loaded_value": self.loaded_value}

    def save_checkpoint(self, checkpoint_dir):
        path = os.path.join(checkpoint_dir, "state.json")
        with open(path, "w") as f:
            json.dump({"value": self.value, "saved_on": os.environ.get("TUNELAB_SCRATCH_DIR")}, f)
        return path

    def load_checkpoint(self, path):
        with open(path) as f:
            state = json.load(f)
        self.value = self.loaded_value = state["value"]
        self.loaded_from = state["saved_on"]


def test_pbt_exploits_checkpoints_across_nodes_through_storage(on_nodes, tmp_path):
    """Each node has its own scratch: a trial exploiting a donor that ran on the other node gets the donor's
    checkpoint from storage, and goes on from the donor's state."""
    from tunelab.schedulers import PopulationBasedTraining

    pbt = PopulationBasedTraining(time_attr="training_iteration", metric="value", mode="max",
                                  perturbation_interval=3, hyperparam_mutations={"rate": [1, 2, 3, 4]})
    analysis = tune.run(RateCounter, config={"rate": tune.grid_search([1, 2, 3, 4])}, scheduler=pbt,
                        stop={"training_iteration": 12}, local_dir=str(tmp_path / "driver"),
                        storage_path=str(tmp_path / "storage"), verbose=0)
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 4
    rows = []
    for trial in analysis.trials:
        history = _history(trial)  # an exploit goes on from the donor's iteration: not a gap-free count
        assert history[-1]["training_iteration"] == 12
        rows += [(before, after) for before, after in zip(history, history[1:])]
    exploits = [(b, a) for b, a in rows if a["loaded_value"] is not None and a["loaded_value"] != b["loaded_value"]
                and a["loaded_value"] != b["value"]]
    assert exploits, "PBT exploited nothing"
    for _, after in exploits:  # the trial went on from the donor's value, not its own
        assert after["value"] == after["loaded_value"] + after["config"]["rate"]
    crossed = [a for _, a in rows if a["loaded_from"] and a["loaded_from"] != a["scratch"]]
    assert crossed, "no checkpoint crossed nodes (each came from the same node's scratch)"
def test_a_killed_driver_is_resumed_from_storage_on_another_machine(nodes, tmp_path):
    """The driver SIGKILLed mid-run and its local_dir deleted (its machine is gone); a new driver with an empty
    local_dir and the same storage_path resumes on the cluster: every trial TERMINATED, gap-free histories in
    storage, each trial restored from its checkpoint in storage."""
    tune.init()  # this process is not connected: only the driver scripts are
    if ray.is_initialized():
        ray.shutdown()
    script = tmp_path / "driver.py"
    script.write_text(_HEAD_DRIVER)
    storage, iterations = tmp_path / "storage", 12
    env = ray_env(TUNELAB_EXECUTOR="ray", TUNELAB_ADDRESS=nodes.address, TUNELAB_SYNC_PERIOD_S="0.5")
    first = subprocess.Popen([sys.executable, str(script), str(tmp_path / "machine1"), str(storage), str(iterations),
                              "fresh"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exp = storage / "headloss"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:  # until storage has 2 checkpoints of each
        if len(list(exp.glob("*/checkpoint_*/.tune_metadata"))) >= 4 and len(list(exp.glob("*/result.json"))) == 2:
            break
        time.sleep(0.1)
    assert first.poll() is None, first.communicate()
    first.kill()
    first.wait()
    shutil.rmtree(tmp_path / "machine1")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "machine2"), str(storage), str(iterations),
                           "resume"], env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert set(json.loads(done.stdout.strip().splitlines()[-1]).values()) == {"TERMINATED"}
    for result_file in exp.glob("*/result.json"):
        results = [json.loads(line) for line in result_file.read_text().splitlines()]
        assert [r["training_iteration"] for r in results] == list(range(1, iterations + 1))
        assert [r["count"] for r in results] == list(range(1, iterations + 1))
        assert results[-1]["restored_at"] >= 2  # continued from a checkpoint in storage, not from scratch


def test_a_lost_node_costs_its_trials_a_restore_not_the_run(on_nodes, tmp_path):
    """3 trials over both nodes; the second node SIGKILLed (its scratch deleted) while trials run there:
    every trial ends TERMINATED with a gap-free history, those of the lost node restored from a checkpoint
    on the head, within a minute of the kill; the lost node's CPUs left the executor's pool."""
    second = on_nodes.nodes[1]
    killer = KillNodeAt(on_nodes, second, at=5)
    iterations = 15
    analysis = tune.run(Counter, config={"i": tune.grid_search([1, 2, 3])}, stop={"training_iteration": iterations},
                        checkpoint_freq=3, max_failures=3, callbacks=[killer], local_dir=str(tmp_path / "driver"),
                        storage_path=str(tmp_path / "storage"), verbose=0)
    assert killer.killed_at is not None and killer.victims
    assert time.monotonic() - killer.killed_at < 60
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 3
    for trial in analysis.trials:
        history = _history(trial)
        assert [r["training_iteration"] for r in history] == list(range(1, iterations + 1))  # no gap, no duplicate
        assert [r["count"] for r in history] == list(range(1, iterations + 1))  # state carried over
    restored = [t for t in analysis.trials if t.num_failures]
    assert restored and {t.trial_id for t in restored} <= killer.victims
    for trial in restored:
        history = _history(trial)
        assert history[-1]["scratch"] != second.scratch  # finished elsewhere
        with open(trial.error_file) as f:
            assert "WorkerDied" in f.read()
        there = [i for i, r in enumerate(history) if r["scratch"] == second.scratch]
        if there:  # it ran there: the next process went on from the latest checkpoint it had
            after = history[there[-1] + 1]
            assert after["training_iteration"] == after["restored_at"] + 1
    trigger = next(t for t in analysis.trials if t.trial_id == killer.trigger)
    assert _history(trigger)[-1]["restored_at"] >= 3  # killed at iteration >= 5, checkpointed at 3
    executor = tune.api.get_executor()
    assert executor.pool.total_cpu == 1  # the head's CPU only: the lost node's left the pool
    assert "lost 1 node(s)" in executor.resource_summary()


@pytest.mark.parametrize("mid_run", [False, True], ids=["lost_before_the_run", "lost_mid_run"])
def test_trials_that_fit_only_on_a_lost_node_wait_pending_until_a_node_joins(nodes, tmp_path, mid_run):
    """`node_b` was only on the lost node: trials asking for it are not errors (the cluster held it
    once), they wait PENDING with a message until a node with `node_b` joins, then run there. The node is
    lost right before the driver connects (Ray has not noticed yet: the executor probes each node once), or
    while the trials run on it (they fail, wait, and go on from their checkpoints on the new node)."""
    node_b = next((n for n in nodes.nodes if n.alive and "node_b" in n.resources), None)
    if node_b is None:  # the earlier tests took it: a fresh one
        node_b = nodes.add_node(num_cpus=2, resources={"node_b": 2})
    killer = KillNodeAt(nodes, node_b, at=3)
    if not mid_run:
        nodes.kill_node(node_b)
    tune.init(executor="ray", address=nodes.address)
    seen = {}

    class Watch(Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            seen.setdefault("started", time.monotonic())

    def add_node_later():
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            executor = tune.api._executor
            if executor is not None and not node_b.alive and "lost" in executor.resource_summary():
                seen["summary"] = executor.resource_summary()
                break
            time.sleep(0.2)
        time.sleep(1)  # the trials wait meanwhile
        seen["joining"] = time.monotonic()
        seen["new"] = nodes.add_node(num_cpus=2, resources={"node_b": 2})

    joiner = threading.Thread(target=add_node_later)
    joiner.start()
    try:
        with pytest.warns(RuntimeWarning, match="wait PENDING: the Ray cluster lost .* node_b"):
            analysis = tune.run(Counter, config={"i": tune.grid_search([1, 2])}, stop={"training_iteration": 6},
                                resources_per_trial={"cpu": 1, "custom_resources": {"node_b": 1}},
                                checkpoint_freq=2, max_failures=1, callbacks=[Watch(), killer] if mid_run else [Watch()],
                                local_dir=str(tmp_path / "driver"), storage_path=str(tmp_path / "storage"),
                                verbose=0)
    finally:
        joiner.join()
        tune.init()
    assert [t.status for t in analysis.trials] == [Trial.TERMINATED] * 2
    assert "0/" in seen["summary"] and "wait PENDING until nodes join" in seen["summary"]
    for trial in analysis.trials:
        history = _history(trial)
        assert [r["training_iteration"] for r in history] == list(range(1, 7))
        assert [r["count"] for r in history] == list(range(1, 7))
        assert history[-1]["scratch"] == seen["new"].scratch  # finished on the node that joined
    if mid_run:  # both were on the lost node and failed once; those that ran there went on from a checkpoint
        assert all(t.num_failures == 1 for t in analysis.trials)
        victims = [t for t in analysis.trials if t.trial_id in killer.victims]
        assert victims and all(_history(t)[-1]["restored_at"] >= 2 for t in victims)
    else:
        assert seen["started"] > seen["joining"]  # nothing ran before the new node was there
        assert all(t.num_failures == 0 for t in analysis.trials)


_HEAD_DRIVER = textwrap.dedent("""
    import json, os, sys, time
    import tunelab as tune
    from tunelab import Trainable

    class Slow(Trainable):
        def setup(self, config):
            self.count = self.restored_at = 0

        def step(self):
            time.sleep(0.2)
            self.count += 1
            return {"count": self.count, "restored_at": self.restored_at}

        def save_checkpoint(self, checkpoint_dir):
            path = os.path.join(checkpoint_dir, "state.json")
            with open(path, "w") as f:
                json.dump({"count": self.count}, f)
            return path

        def load_checkpoint(self, path):
            with open(path) as f:
                self.count = self.restored_at = json.load(f)["count"]

    local_dir, storage, iterations, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "resume"
    try:
        analysis = tune.run(Slow, name="headloss", config={"i": tune.grid_search([1, 2])},
                            stop={"training_iteration": iterations}, checkpoint_freq=2, max_failures=3,
                            local_dir=local_dir, storage_path=storage, verbose=0, resume=resume)
    except tune.TuneError as e:
        print("TuneError:", e, flush=True)
        sys.exit(3)
    print(json.dumps({t.trial_id: t.status for t in analysis.trials}), flush=True)
""")


def test_a_lost_head_stops_the_experiment_resumably(nodes, tmp_path):
    """The head SIGKILLed while trials run: the driver stops with a TuneError that says to resume; the
    experiment, resumed on a new cluster, finishes every trial from its checkpoints, gap-free."""
    tune.init()  # this process leaves the cluster: only the driver script below is connected to it
    if ray.is_initialized():
        ray.shutdown()
    script = tmp_path / "driver.py"
    script.write_text(_HEAD_DRIVER)
    iterations = 12
    env = ray_env(TUNELAB_EXECUTOR="ray", TUNELAB_ADDRESS=nodes.address)
    storage = str(tmp_path / "storage")
    driver = subprocess.Popen([sys.executable, str(script), str(tmp_path), storage, str(iterations), "fresh"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exp_dir = tmp_path / "headloss"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:  # until every trial has reported 4 times
        files = [exp_dir / d / "result.json" for d in os.listdir(exp_dir)] if exp_dir.is_dir() else []
        counts = [len(f.read_text().splitlines()) for f in files if f.exists()]
        if len(counts) == 2 and min(counts) >= 4:
            break
        time.sleep(0.1)
    assert driver.poll() is None, driver.communicate()
    nodes.kill_node(nodes.head)
    killed = time.monotonic()
    out, err = driver.communicate(timeout=60)
    assert driver.returncode == 3, out + err[-3000:]
    assert time.monotonic() - killed < 30
    assert "Lost the connection to the Ray cluster" in out and "resume=True" in out
    nodes.shutdown()

    fresh = start_cluster("n", [{"num_cpus": 2}])
    try:
        env = ray_env(TUNELAB_EXECUTOR="ray", TUNELAB_ADDRESS=fresh.address)
        done = subprocess.run([sys.executable, str(script), str(tmp_path), storage, str(iterations), "resume"], env=env,
                              capture_output=True, text=True, timeout=120)
    finally:
        fresh.shutdown()
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert set(json.loads(done.stdout.strip().splitlines()[-1]).values()) == {"TERMINATED"}
    for name in os.listdir(exp_dir):
        if (exp_dir / name / "result.json").exists():
            with open(exp_dir / name / "result.json") as f:
                results = [json.loads(line) for line in f]
            assert [r["training_iteration"] for r in results] == list(range(1, iterations + 1))
            assert [r["count"] for r in results] == list(range(1, iterations + 1))
            assert results[-1]["restored_at"] >= 2  # continued from a checkpoint, not from scratch
