"""The Ray executor: each running trial lives in a Ray actor, so one experiment spans a Ray cluster.

Ray places the actors (and sets their `CUDA_VISIBLE_DEVICES`); everything else is the local executor's.
An actor runs the same worker loop as a local worker process and talks to the driver over its own TCP
connection, with the same length-prefixed messages: the driver listens on its node's address (127.0.0.1 for
a private instance), each actor connects back and proves itself with a per-executor secret. So a report
costs a socket round trip rather than Ray actor calls (about 1 ms each), a dead actor is a closed connection,
and the event loop is the local one (one selector over all connections).

Checkpoints and trial folders are written by the actor in its node's folder (`storage/trial_files.py`): with
storage (`storage_path`) the actor uploads its checkpoints and downloads the ones it restores, so nodes share
nothing; without it, `local_dir` must be on a filesystem every node mounts, which `nodes_not_seeing` checks.

Nodes come and go: the executor's resource pool follows the alive nodes (`ray_nodes.ClusterView`), an actor
on a lost node is a dead worker (its trial is retried from its checkpoint per `max_failures`), an actor that
no alive node can hold is not waited for, and a lost head node stops the experiment (`ClusterLost`).
"""
from __future__ import annotations

import hmac
import os
import secrets
import selectors
import socket
import struct
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.execution import protocol as P
from tunelab.execution.channel import Channel
from tunelab.execution.executor import Event
from tunelab.execution.local import THREAD_ENV_VARS, LocalExecutor
from tunelab.execution.ray_nodes import ClusterLost, ClusterView
from tunelab.execution.resource_pool import ResourcePool
from tunelab.storage.layout import SCRATCH_DIR_ENV

if TYPE_CHECKING:
    from tunelab.resources import Resources
    from tunelab.trial import Trial

#: while actors are starting, the driver sleeps at most this long between checks that they did not fail
CONNECT_POLL_S = 0.05
#: an accepted connection must have said who it is within this time in all (an actor does so at once);
#: handshakes are read without blocking, so a silent or trickling peer never holds up the event loop
HANDSHAKE_TIMEOUT_S = 3.0
#: at most this many accepted connections may be in the middle of their handshake; more are closed at once
MAX_PENDING_HANDSHAKES = 64
#: how long each node may take to run the shared-folder check (`nodes_not_seeing`)
SHARE_CHECK_TIMEOUT_S = 60.0
#: the variable naming a node's own scratch folder (set on its `ray start`), reported by the shared-folder check


class TrialActor:
    """Body of the Ray actor: connects back to the driver and serves trials one after another."""

    def __init__(self) -> None:
        os.environ["TUNELAB_WORKER"] = "1"
        self.thread: threading.Thread | None = None

    def connect(self, host: str, port: int, token: bytes, worker_key: str) -> tuple[int, str]:
        """Open the connection to the driver, introduce this worker, and serve it in a thread; the pid and
        the id of the node it runs on."""
        import ray

        from tunelab.execution.worker import _Exit, _WorkerLoop

        sock = socket.create_connection((host, port), timeout=30)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(_handshake(token, worker_key))
        channel = Channel(sock)

        def serve() -> None:
            try:
                _WorkerLoop(channel).serve()
            except _Exit:
                pass
            finally:
                channel.close()

        self.thread = threading.Thread(target=serve, name="tunelab-trial", daemon=True)
        self.thread.start()
        return os.getpid(), ray.get_runtime_context().get_node_id()


class _PendingChannel:
    """Stands in for a worker's connection until its actor connects: keeps what the driver sends."""

    def __init__(self) -> None:
        self.queued: list[Any] = []

    def send(self, message: Any) -> None:
        self.queued.append(message)

    def buffered(self) -> bool:
        return False

    def close(self) -> None:
        self.queued.clear()


class _RayWorker:
    """The driver's side of one actor: the same surface as a local worker (`conn`, `trial`, `kill`...)."""

    def __init__(self, actor: Any, signature: tuple, connect_ref: Any, key: str):
        self.actor = actor
        self.signature = signature
        self.connect_ref = connect_ref  # done when the actor connected (or failed to)
        self.key = key
        self.conn: Any = _PendingChannel()
        self.trial: Trial | None = None
        self.stopping: Trial | None = None  # as for a local worker: stopped, end not yet acknowledged
        self.stop_deadline = 0.0
        self.gpu_ids: list[str] = []
        self.known_keys: set[str] = set()
        self.node_id: str | None = None  # known once `connect` returned
        self.cluster_lost = False  # then Ray cannot be asked to kill the actor: its connection is all there is

    @property
    def connected(self) -> bool:
        return not isinstance(self.conn, _PendingChannel)

    @property
    def idle(self) -> bool:
        return self.trial is None and self.stopping is None

    def attach(self, conn: Channel) -> None:
        queued, self.conn = self.conn.queued, conn
        for message in queued:
            conn.send(message)

    @property
    def label(self) -> str:
        return f"the Ray actor {self.key}"

    def wait_exit(self, timeout: float) -> None:
        """Nothing to wait for: `kill` ends the actor through Ray."""

    def describe_exit(self) -> str:
        return "its Ray actor's connection closed (the actor's process died: killed, out of memory, or its node was lost)"

    def kill(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        if self.cluster_lost:
            return
        import ray

        try:
            ray.kill(self.actor)
        except Exception:
            pass


def _handshake(token: bytes, worker_key: str) -> bytes:
    """What an actor sends first: the executor's secret, then its worker key (no pickle before trust)."""
    key = worker_key.encode("ascii")
    return token + struct.pack("!H", len(key)) + key


class _Handshake:
    """An accepted connection that has not yet said who it is: its bytes are read as they arrive, without
    blocking, and never past the handshake (the executor's secret, 2-byte key length, key)."""

    def __init__(self, sock: socket.socket, token: bytes, deadline: float):
        self.sock = sock
        self.token = token
        self.token_size = len(token)
        self.deadline = deadline  # time.monotonic() by which the whole handshake must be in
        self.buffer = bytearray()

    def fileno(self) -> int:
        return self.sock.fileno()

    def _missing(self) -> int:
        header = self.token_size + 2
        if len(self.buffer) < header:
            return header - len(self.buffer)
        (length,) = struct.unpack_from("!H", self.buffer, self.token_size)
        return header + length - len(self.buffer)

    def read(self) -> str | None:
        """Read what has arrived: the worker key once complete, None while more is due. EOFError when the
        peer closed or failed, or sent something other than the secret (checked as soon as it is in)."""
        while True:
            if len(self.buffer) >= self.token_size and not hmac.compare_digest(
                    bytes(self.buffer[:self.token_size]), self.token):
                raise EOFError("the peer does not know the secret")
            missing = self._missing()
            if missing == 0:
                return self.buffer[self.token_size + 2:].decode("ascii", "replace")
            try:
                chunk = self.sock.recv(missing)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:
                raise EOFError(str(exc)) from None
            if not chunk:
                raise EOFError("connection closed during the handshake")
            self.buffer += chunk


def _describe(amounts: dict) -> str:
    return ", ".join(f"{v:g} {k}" for k, v in amounts.items() if v) or "nothing"


def no_node_fits(wanted: dict, nodes: list[dict]) -> str | None:
    """Why no node (Ray's per-node resource dicts) can hold `wanted` (e.g. {"CPU": 2, "GPU": 1}); None if
    one can (or the node list is unknown)."""
    if not nodes or any(all(node.get(k, 0) + 1e-9 >= v for k, v in wanted.items() if v) for node in nodes):
        return None
    largest = max(nodes, key=lambda node: tuple(node.get(k, 0) for k in wanted))
    return (f"Trial requests {_describe(wanted)} but no node of the Ray cluster has that much (the largest has "
            f"{_describe({k: largest.get(k, 0) for k in wanted})}); a trial runs on one node. Lower "
            f"resources_per_trial, or add a bigger node.")


def _wanted(signature: tuple) -> dict:
    """The per-node resources an actor of this resource shape needs, as Ray names them."""
    cpu, gpu, custom = signature
    return {"CPU": cpu, "GPU": gpu, **dict(custom)}


def _sees_marker(path: str, token: str) -> dict:
    """Run on one node (a Ray task): whether the driver's marker file is there with its token, and this
    node's scratch folder."""
    try:
        with open(path) as f:
            sees = f.read() == token
    except OSError:
        sees = False
    return {"sees": sees, "scratch": os.environ.get(SCRATCH_DIR_ENV)}


def _resource_shape(resources: "Resources") -> tuple:
    custom = tuple(sorted((resources.custom_resources or {}).items()))
    return (resources.cpu_total(), resources.gpu_total(), custom)


def _is_loopback(address: str) -> bool:
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _keep_ray_on_loopback() -> None:
    """Ray (2.x) replaces 127.0.0.1 by the machine's outward address, for the node it starts and for the
    address it connects to, unless its single-node mode is on: turn that on, for this process (whose Ray
    constants may already be loaded) and the processes Ray starts. Only for a private or loopback cluster."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    except (ImportError, AttributeError):  # another Ray version: the variable above is all there is
        pass


def _export_sys_path() -> None:
    """Let the Ray workers this process starts import what the driver imports (as local workers can)."""
    entries = [p or os.getcwd() for p in sys.path]
    current = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(([current] if current else []) + entries)


class RayExecutor(LocalExecutor):
    """Trials as Ray actors on a Ray cluster (an existing one at `address`, or one started on 127.0.0.1)."""

    def __init__(self, num_cpus: float | None = None, num_gpus: int | None = None, resources: dict | None = None,
                 address: str | None = None):
        loopback = address is None or _is_loopback(address)
        if loopback:
            _keep_ray_on_loopback()
        try:
            import ray
        except ImportError:
            raise TuneError("executor='ray' needs Ray: pip install 'tunelab[ray]'") from None
        self._ray = ray
        self._connected_ray = False  # whether this executor called ray.init (then shutdown disconnects)
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=True)
            else:  # a private single-machine cluster, reachable on the loopback interface only
                _export_sys_path()
                ray.init(num_cpus=num_cpus, num_gpus=num_gpus,  # type: ignore[arg-type] # Ray takes whole floats resources=resources, include_dashboard=False,
                         _node_ip_address="127.0.0.1", log_to_driver=True)
            self._connected_ray = True
        self._caps = (num_cpus, num_gpus)
        self._view = ClusterView(ray)
        super().__init__(*self._capped(self._view.totals()))
        self._cluster_lost = False
        self._share_checked: dict[tuple, list[dict]] = {}
        self._actor_class: Any = ray.remote(TrialActor)  # a Ray actor class (its type is made at run time)
        self._token = secrets.token_bytes(16)
        host = "127.0.0.1" if loopback else ray.util.get_node_ip_address()
        self._listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self._address = self._listener.getsockname()[:2]
        self._selector.register(self._listener, selectors.EVENT_READ, self._accept_connections)
        self._handshakes: list[_Handshake] = []  # accepted connections still saying who they are
        self._next_key = 0

    # -- resources ---------------------------------------------------------------------------------
    def _capped(self, total: dict) -> tuple[float, int, dict]:
        """The pool's CPUs, GPUs and custom resources for these cluster totals (capped by init's num_cpus
        and num_gpus)."""
        num_cpus, num_gpus = self._caps
        cpus, gpus = total.get("CPU", 0.0), int(total.get("GPU", 0))
        custom = {k: v for k, v in total.items() if k not in ("CPU", "GPU")}
        return (cpus if num_cpus is None else min(num_cpus, cpus), gpus if num_gpus is None else min(num_gpus, gpus),
                custom)

    def free_cpu(self) -> float | None:
        return self.pool.total_cpu - self.pool.used_cpu

    def resource_summary(self) -> str:
        lost = self._view.shortfall()
        return self.pool.summary() + " (Ray cluster" + (f"; {lost})" if lost else ")")

    def lost_capacity(self) -> str | None:
        return self._view.shortfall()

    def never_fits(self, resources: "Resources") -> str | None:
        """Against the cluster at its largest (a lost node may come back: a trial that fits only there waits
        PENDING); and an actor lives on one node, so some node must hold the whole request."""
        problem = ResourcePool(*self._capped(self._view.peak())).never_fits(resources)
        if problem is not None:
            return problem
        wanted = {"CPU": resources.cpu_total(), "GPU": resources.gpu_total(), **resources.custom()}
        return no_node_fits(wanted, [node.resources for node in self._view.nodes.values()])

    # -- nodes ---------------------------------------------------------------------------------------
    def _worker_lost(self, worker: Any) -> None:
        """An actor's connection closed: its node may be gone; look (probe its raylet) before the next
        trial is admitted."""
        self._view.suspect(getattr(worker, "node_id", None))

    def _check_nodes(self) -> list[Event]:
        """Refresh the view of the nodes (when due) and the pool with it; then fail the trials whose actor
        was on a lost node, or waits for a place that no alive node has. ClusterLost when the head is gone."""
        if self._cluster_lost or not self._view.due():  # a lost cluster was reported once: nothing to refresh
            return []
        try:
            self._view.refresh()
        except ClusterLost:
            self._cluster_lost = True
            for worker in self._ray_workers():
                worker.cluster_lost = True
            raise
        self.pool.set_totals(*self._capped(self._view.totals()))
        alive = self._view.alive()
        alive_ids = {node.node_id for node in alive}
        events: list[Event] = []
        for worker in self._ray_workers():
            node = self._view.node_of(worker.node_id)
            if node is not None and node.node_id not in alive_ids:
                events += self._lose_worker(worker, f"its node {node.describe()} was lost")
            elif not worker.connected and worker.trial is not None:
                problem = no_node_fits(_wanted(worker.signature), [n.resources for n in alive])
                if problem is not None:
                    events += self._lose_worker(worker, "no alive node of the Ray cluster can hold its actor any "
                                                        "more (a node was lost)")
        return events

    def _lose_worker(self, worker: _RayWorker, why: str) -> list[Event]:
        trial, stopping = worker.trial, worker.stopping
        self._discard(worker)
        events = [Event(stopping, P.STOPPED, ())] if stopping is not None else []
        if trial is not None:
            events.append(Event(trial, P.ERROR, (f"WorkerDied: {worker.label} running trial {trial} is gone: "
                                                 f"{why}.\n",)))
        return events

    def _ray_workers(self) -> list[_RayWorker]:
        return [w for w in self._workers if isinstance(w, _RayWorker)]

    def _discard(self, worker: _RayWorker) -> None:
        self._discard_worker(worker)  # type: ignore[arg-type] # duck-types local._WorkerHandle

    def nodes_not_seeing(self, folder: str) -> list[dict]:
        """The alive nodes that do not see `folder`, or that run trials in a scratch folder of their own
        (each {"node_id", "address", "scratch"}: `scratch` is the node's TUNELAB_SCRATCH_DIR, or None): the
        driver writes a marker file with a random token there and a tiny task on each node (pinned with
        NodeAffinitySchedulingStrategy) looks for it. Empty on a one-node cluster. Remembered per folder and
        set of alive nodes."""
        import tempfile

        from ray.exceptions import TaskUnschedulableError
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        for node in self._view.alive():  # Ray may not have noticed a node that is gone: it could not answer
            self._view.suspect(node.node_id)
        self._view.refresh(force=True)
        alive = self._view.alive()
        if len(alive) < 2:
            return []
        folder = os.path.abspath(folder)
        key = (folder, frozenset(node.node_id for node in alive))
        if key in self._share_checked:
            return self._share_checked[key]
        os.makedirs(folder, exist_ok=True)
        token = secrets.token_hex(16)
        check = self._ray.remote(num_cpus=0, max_retries=0)(_sees_marker)
        missing = []
        with tempfile.NamedTemporaryFile("w", dir=folder) as marker:
            marker.write(token)
            marker.flush()
            refs = [check.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node.node_id, soft=False))
                    .remote(marker.name, token) for node in alive]
            done, _ = self._ray.wait(refs, num_returns=len(refs), timeout=SHARE_CHECK_TIMEOUT_S)
            for node, ref in zip(alive, refs, strict=True):
                if ref not in done:
                    raise TuneError(f"Could not check that every node of the Ray cluster sees {folder}: node "
                                    f"{node.describe()} did not answer within {SHARE_CHECK_TIMEOUT_S:g} s")
                try:
                    answer = self._ray.get(ref)
                except TaskUnschedulableError:  # the node is gone: it runs no trial either
                    continue
                except Exception as exc:
                    raise TuneError(f"Could not check that node {node.describe()} of the Ray cluster sees {folder}: "
                                    f"{type(exc).__name__}: {exc}") from None
                if not answer["sees"] or answer["scratch"]:  # a node with scratch works in it, not in folder
                    missing.append({"node_id": node.node_id, "address": node.address, "scratch": answer["scratch"]})
        self._share_checked[key] = missing
        return missing

    # -- the hooks of the local executor -------------------------------------------------------------
    def _signature(self, trial: "Trial", gpu_ids: list[str], threads: int) -> tuple:
        return _resource_shape(trial.resources)

    def _trial_env(self, threads: int) -> dict:
        return {var: str(threads) for var in THREAD_ENV_VARS}

    def _new_worker(self, signature: tuple) -> _RayWorker:  # type: ignore[override] # duck-types local._WorkerHandle
        """A new actor of this resource shape. Idle actors keep their Ray resources, so the idle ones (all of
        other shapes: one of this shape would have been reused) are killed first."""
        for worker in [w for w in self._workers if w.idle]:
            self._discard_worker(worker)
        cpu, gpu, custom = signature
        actor = self._actor_class.options(num_cpus=cpu, num_gpus=gpu, resources=dict(custom) or None).remote()
        key = f"w{self._next_key}"
        self._next_key += 1
        connect_ref = actor.connect.remote(self._address[0], self._address[1], self._token, key)
        return _RayWorker(actor, signature, connect_ref, key)

    # -- connections ---------------------------------------------------------------------------------
    def _accept_connections(self) -> None:
        """Take each new connection; its handshake is read as its bytes arrive (`_read_handshake`), so no
        peer can block the event loop. Beyond MAX_PENDING_HANDSHAKES unfinished ones, new peers are closed."""
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file descriptors, say: the peer waits in the backlog or gives up
                return
            if len(self._handshakes) >= MAX_PENDING_HANDSHAKES:
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handshake = _Handshake(sock, self._token, time.monotonic() + HANDSHAKE_TIMEOUT_S)
            self._handshakes.append(handshake)
            self._selector.register(handshake, selectors.EVENT_READ, lambda h=handshake: self._read_handshake(h))
            self._read_handshake(handshake)  # an actor's handshake is usually there already

    def _read_handshake(self, handshake: _Handshake) -> None:
        """Read what a connecting peer sent; once its handshake is complete, attach it to its worker. The
        handshake is raw bytes, checked before anything is unpickled: a peer without the secret (or
        unknown) is dropped."""
        try:
            key = handshake.read()
        except EOFError:
            self._drop_handshake(handshake)
            return
        if key is None:
            return
        worker = next((w for w in self._workers if isinstance(w, _RayWorker) and w.key == key
                       and not w.connected), None)
        if worker is None:
            self._drop_handshake(handshake)
            return
        self._drop_handshake(handshake, close=False)
        handshake.sock.setblocking(True)
        conn = Channel(handshake.sock)
        worker.attach(conn)
        self._selector.register(conn, selectors.EVENT_READ, worker)

    def _drop_handshake(self, handshake: _Handshake, close: bool = True) -> None:
        self._handshakes.remove(handshake)
        try:
            self._selector.unregister(handshake)
        except (KeyError, ValueError):
            pass
        if close:
            handshake.sock.close()

    def _expire_handshakes(self) -> None:
        """Close the connections that did not complete their handshake in HANDSHAKE_TIMEOUT_S."""
        now = time.monotonic()
        for handshake in [h for h in self._handshakes if h.deadline <= now]:
            self._drop_handshake(handshake)

    def get_events(self, timeout: float) -> list[Event]:
        self._expire_handshakes()
        events = self._failed_connects() + self._check_nodes()
        starting = any(not w.connected for w in self._ray_workers())
        if starting:
            self._unblock_pending()
        if events:
            return events
        if starting:
            timeout = min(timeout, CONNECT_POLL_S)  # come back soon to check on the actors still starting
        if self._handshakes:  # wake up to close the ones that run out of time
            timeout = max(0.0, min(timeout, min(h.deadline for h in self._handshakes) - time.monotonic()))
        events = super().get_events(timeout)
        lost = self._check_nodes()  # an actor died: its node may be gone (see _worker_lost)
        if not lost:
            return events
        # a result read before its node was found lost cannot be answered (the actor is gone): the trial's
        # ERROR replaces it, and the trial goes on from its checkpoint (the loggers drop what came after it)
        failed = {event.trial.trial_id for event in lost}
        return [event for event in events if event.trial.trial_id not in failed] + lost

    def _unblock_pending(self) -> None:
        """Actors waiting for Ray to place them may wait for resources that idle actors hold (the pool
        counts those as free): give their trial to an idle actor of the same shape, and kill the other idle
        actors while some actor still waits."""
        waiting = [w for w in self._ray_workers() if not w.connected and w.trial is not None]
        for worker in waiting:
            idle = next((w for w in self._ray_workers() if w.idle and w.connected and w.signature == worker.signature),
                        None)
            if idle is not None:
                self._rehome(worker, idle)
        if any(not w.connected and w.trial is not None for w in self._ray_workers()):
            for idle in [w for w in self._ray_workers() if w.idle and w.connected]:
                self._discard(idle)

    def _rehome(self, pending: _RayWorker, idle: _RayWorker) -> None:
        """Move a trial from an actor still starting to an idle connected one (what the trial was sent
        waits in the pending actor's queue), and kill the pending actor."""
        trial = pending.trial
        assert trial is not None  # selected by the caller
        queued = list(pending.conn.queued)
        idle.trial, idle.gpu_ids, pending.trial, pending.gpu_ids = trial, pending.gpu_ids, None, []
        idle.known_keys |= pending.known_keys
        self._by_trial[trial.trial_id] = idle  # type: ignore[assignment] # duck-types local._WorkerHandle
        self._discard(pending)
        try:
            for message in queued:
                idle.conn.send(message)
        except (OSError, ValueError):
            pass  # it died meanwhile: its connection's end is read by the event loop, as for any trial

    def _failed_connects(self) -> list[Event]:
        """Error events for trials whose actor could not start or connect (its `connect` call raised); and
        the node of each actor that connected."""
        pending = [w for w in self._ray_workers() if w.node_id is None]
        if not pending:
            return []
        done, _ = self._ray.wait([w.connect_ref for w in pending], num_returns=len(pending), timeout=0)
        events = []
        for worker in pending:
            if worker.connect_ref not in done:
                continue
            try:
                worker.node_id = self._ray.get(worker.connect_ref)[1]
            except Exception as e:
                trial = worker.trial
                self._discard(worker)
                if trial is not None:
                    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                    events.append(Event(trial, P.ERROR, (f"WorkerDied: the Ray actor for trial {trial} could not "
                                                         f"start or connect: {type(e).__name__}: {first}\n",)))
        return events

    def shutdown(self) -> None:
        super().shutdown()
        if self._connected_ray and self._ray.is_initialized():  # (a few seconds more when the head is gone)
            self._ray.shutdown()
            self._connected_ray = False
        for handshake in list(self._handshakes):
            self._drop_handshake(handshake)
        try:
            self._selector.unregister(self._listener)
        except (KeyError, ValueError):
            pass
        self._listener.close()
