"""Real Ray clusters on this machine's loopback interface for the tests: a head node, optionally more nodes
(each a `ray start` with its own temp dir, ports, custom resources and scratch folder), killed node by node
(SIGKILL of its raylet and everything it started) and torn down without touching any other Ray process on the
machine (never `ray stop`, which stops every cluster of every user).

Import this module before Ray: `RAY_TEST_ENV` must be in the environment when Ray is imported (it reads it
once), which `apply_test_env()` does; the tests that need Ray then `pytest.importorskip("ray")`."""
from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

#: Ray's single-node mode keeps every address on 127.0.0.1 (else Ray swaps in the machine's outward IP);
#: token authentication (Ray's default for clusters started by `ray start`) on for the cluster and the driver,
#: with a fresh token of this test run's own (nothing read from `~/.ray`: a fresh machine has no token file).
RAY_TEST_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_AUTH_TOKEN": secrets.token_hex(32)}
RAY_CLI = os.path.join(os.path.dirname(sys.executable), "ray")
#: the variable naming a node's own scratch folder (trial working directories), set on each node's `ray start`
from tunelab.storage.layout import SCRATCH_DIR_ENV as SCRATCH_ENV  # noqa: E402


def apply_test_env() -> dict:
    """Put RAY_TEST_ENV in this process's environment; what was there before (for `restore_env`)."""
    saved = {k: os.environ.get(k) for k in RAY_TEST_ENV}
    os.environ.update(RAY_TEST_ENV)
    return saved


def restore_env(saved: dict) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_env(**extra: str) -> dict:
    """The environment for `ray start` and for driver scripts: this one, the test settings, and a PYTHONPATH
    that lets Ray workers import what the tests import."""
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
    env.update(RAY_TEST_ENV)
    env.update(extra)
    return env


def _children() -> dict[int, list[int]]:
    """pid -> its child pids, for every process on the machine."""
    children: dict[int, list[int]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    return children


def stop_processes(temp_dir: str) -> int:
    """SIGKILL the Ray processes of one node or cluster: those whose command line names `temp_dir`, and
    every descendant of theirs (Ray workers rename themselves `ray::...`, so their command line no longer
    says where they belong). Nothing else on the machine is touched. How many processes were killed."""
    roots = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if temp_dir.encode() in cmdline:
            roots.append(int(pid))
    children, doomed, todo = _children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid in doomed or pid == os.getpid():
            continue
        doomed.add(pid)
        todo.extend(children.get(pid, []))
    for pid in doomed:  # all at once: nothing is left to notice its parent died and clean up gracefully
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(doomed)


@dataclass
class RayNode:
    """One `ray start` of a test cluster: its temp dir (which names its processes) and scratch folder."""

    name: str
    temp_dir: str
    scratch: str
    resources: dict = field(default_factory=dict)
    alive: bool = True


class LocalRayCluster:
    """A Ray cluster of one or more nodes on 127.0.0.1, each a `ray start` of its own (as on separate
    machines: its own temp dir, ports, resources and scratch folder `TUNELAB_SCRATCH_DIR`)."""

    def __init__(self, label: str = "c", multinode: bool = False):
        # short: Ray's socket paths under the temp dir must fit in 107 characters
        self.base = f"/tmp/tl{label}_{os.getpid()}_{secrets.token_hex(2)}"
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[RayNode] = []
        # Ray's single-node mode (RAY_TEST_ENV) refuses a second node: a cluster of several turns it off, and
        # Ray then names every node by the machine's own address (nothing leaves the machine)
        self.multinode = multinode

    def add_node(self, num_cpus: float = 1, resources: dict | None = None, node_env: dict | None = None,
                 scratch: bool = True, private_dirs: tuple[str, ...] = ()) -> RayNode:
        """Start a node (the head when it is the first) and wait until `ray start` returns."""
        node, proc = self._launch(num_cpus, resources, node_env, scratch, private_dirs)
        self._await_start(node, proc)
        return node

    def _launch(self, num_cpus: float = 1, resources: dict | None = None, node_env: dict | None = None,
                scratch: bool = True, private_dirs: tuple[str, ...] = ()) -> tuple[RayNode, subprocess.Popen]:
        """Start `ray start` for a node with `num_cpus` CPUs, no GPU, and `resources`; with `scratch`, its own
        scratch folder in its environment (SCRATCH_ENV); each folder of `private_dirs` is replaced, for this
        node's processes only, by an empty folder of their own (a tmpfs in a mount namespace of the node's
        own): what the driver writes there, this node does not see (as on another machine)."""
        head = not self.nodes
        name = "head" if head else f"n{len(self.nodes)}"
        temp_dir = f"{self.base}/{name}"
        folder = f"{self.base}/scratch_{name}"
        os.makedirs(folder, exist_ok=True)
        args = [RAY_CLI, "start", "--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus:g}", "--num-gpus=0",
                f"--temp-dir={temp_dir}", "--object-store-memory=150000000", "--disable-usage-stats",
                f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
                f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}"]
        if resources:
            args.append(f"--resources={json.dumps(resources)}")
        if head:
            args += ["--head", f"--port={self.port}", "--include-dashboard=false",  # (a head-only option)
                     f"--ray-client-server-port={free_port()}"]
        else:
            args.append(f"--address={self.address}")
        if private_dirs:
            for path in private_dirs:
                os.makedirs(path, exist_ok=True)
            mounts = " && ".join(f"mount -t tmpfs tunelab-private {shlex.quote(p)}" for p in private_dirs)
            args = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                    f"{mounts} && exec {shlex.join(args)}"]
        env = ray_env(**({SCRATCH_ENV: folder} if scratch else {}), **(node_env or {}))
        if self.multinode:
            env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "1"
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        node = RayNode(name, temp_dir, folder, dict(resources or {}))
        self.nodes.append(node)
        return node, proc

    @staticmethod
    def _await_start(node: RayNode, proc: subprocess.Popen) -> None:
        try:
            out, _ = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"ray start failed for {node.name}:\n{out}")

    @property
    def head(self) -> RayNode:
        return self.nodes[0]

    def wait_for_nodes(self, count: int, timeout: float = 60) -> None:
        """Return once the connected driver's Ray sees `count` alive nodes."""
        import ray

        deadline = time.monotonic() + timeout
        while sum(1 for n in ray.nodes() if n.get("Alive")) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Ray cluster has not got {count} alive nodes after {timeout} s")
            time.sleep(0.2)

    def kill_node(self, node: RayNode, delete_scratch: bool = True) -> int:
        """SIGKILL the node's raylet and every process it started (as if its machine was lost), and delete
        its scratch folder (its disk went with it). How many processes were killed."""
        killed = stop_processes(node.temp_dir)
        node.alive = False
        if delete_scratch:
            shutil.rmtree(node.scratch, ignore_errors=True)
        return killed

    def shutdown(self) -> None:
        """Kill every node (the head last) and delete the temp dirs and scratch folders."""
        for node in reversed(self.nodes):
            stop_processes(node.temp_dir)
            node.alive = False
        shutil.rmtree(self.base, ignore_errors=True)


def start_cluster(label: str, nodes: list[dict]) -> LocalRayCluster:
    """A cluster of `len(nodes)` nodes, the first the head; each dict holds `add_node`'s arguments."""
    cluster = LocalRayCluster(label, multinode=len(nodes) > 1)
    try:  # all at once (a node's `ray start` waits for the head's to be up): about the time of one start
        started = [cluster._launch(**spec) for spec in nodes]
        for node, proc in started:
            cluster._await_start(node, proc)
    except BaseException:
        cluster.shutdown()
        raise
    return cluster
