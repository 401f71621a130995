"""The Ray executor: each running trial lives in a Ray actor, so one experiment spans a Ray cluster.

The actor runs the same worker loop as a local worker process (`tunelab.execution.worker`), fed through
in-memory queues instead of a socket: the trial runs in a thread of the actor, `send` hands it the driver's
commands, and `next_messages` returns what it reported. The driver keeps one `next_messages` call in flight
per actor and waits on all of them with `ray.wait`, so results arrive as they are reported, in lock-step,
as with local workers. Resources are booked on tunelab's own pool (sized from the cluster) and requested from
Ray for each actor, which places it and sets its `CUDA_VISIBLE_DEVICES`.

Checkpoints and trial folders are paths written by the actor: on a cluster of several machines they must be
on a filesystem every node mounts at the same path (`local_dir` on NFS, say).
"""
from __future__ import annotations

import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.execution import protocol as P
from tunelab.execution.executor import Event, Executor, TrialCallFailed, WorkerDied
from tunelab.execution.local import THREAD_ENV_VARS, _dumps_config
from tunelab.execution.resources import ResourcePool
from tunelab.registry import trainable_blob

if TYPE_CHECKING:
    from tunelab.resources import Resources
    from tunelab.trial import Trial

#: the longest the driver blocks in `ray.wait` at once, so that `wakeup()` is noticed soon
MAX_WAIT_S = 0.1
#: how long an actor's `next_messages` blocks before returning nothing (the driver then asks again)
MESSAGE_POLL_S = 5.0


class QueueChannel:
    """The worker loop's side of an actor: `recv` blocks on the commands queue, `send` fills the outbox."""

    def __init__(self) -> None:
        self.inbox: queue.Queue = queue.Queue()
        self.outbox: queue.Queue = queue.Queue()

    def send(self, message: Any) -> None:
        self.outbox.put(message)

    def recv(self, spin_s: float = 0.0) -> Any:
        return self.inbox.get()

    def close(self) -> None:
        self.inbox.put((P.EXIT,))


class TrialActor:
    """Body of the Ray actor that runs trials one after another (created with `max_concurrency` > 1, so
    `send` and `next_messages` run beside the trial's thread)."""

    def __init__(self) -> None:
        from tunelab.execution.worker import _Worker

        self.channel = QueueChannel()
        self.worker = _Worker(self.channel)
        self._next_seq = 0
        self._early: dict[int, tuple] = {}
        self._order = threading.Lock()
        os.environ["TUNELAB_WORKER"] = "1"
        self.thread = threading.Thread(target=self._serve, name="tunelab-trial", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from tunelab.execution.worker import _Exit

        try:
            self.worker.serve()
        except _Exit:
            pass

    def send(self, seq: int, message: tuple) -> None:
        """Hand the trial the driver's `seq`-th command. Calls of a threaded actor may run out of order, so
        commands wait here until those before them arrived."""
        with self._order:
            self._early[seq] = message
            while self._next_seq in self._early:
                self.channel.inbox.put(self._early.pop(self._next_seq))
                self._next_seq += 1

    def command(self, seq: int, message: tuple, poll: bool) -> list | None:
        """`send`, then (if `poll`) `next_messages`: one actor call per report in the common case, where
        the driver's CONTINUE comes back as the trial's next result."""
        self.send(seq, message)
        return self.next_messages() if poll else None

    def next_messages(self, timeout: float = MESSAGE_POLL_S) -> list:
        """Every message the trial sent since the last call; waits up to `timeout` for the first one."""
        try:
            messages = [self.channel.outbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                messages.append(self.channel.outbox.get_nowait())
            except queue.Empty:
                return messages

    def node_info(self) -> dict:
        import socket

        return {"pid": os.getpid(), "hostname": socket.gethostname(),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


class _ActorHandle:
    """The driver's record of one actor: the trial it runs, its resource shape and its pending poll (at
    most one call that returns the trial's next messages is in flight)."""

    def __init__(self, actor: Any, shape: tuple):
        self.actor = actor
        self.shape = shape
        self.trial: Trial | None = None
        self.gpu_ids: list[str] = []
        self.known_keys: set[str] = set()
        self.poll: Any = None
        self.backlog: list[tuple] = []
        self._seq = 0

    def send(self, message: tuple, expect_reply: bool = True) -> None:
        """Commands are numbered: the actor applies them in the order they were sent. A command the trial
        answers also polls for that answer, unless a poll is already in flight."""
        poll = expect_reply and self.poll is None
        ref = self.actor.command.remote(self._seq, message, poll)
        if poll:
            self.poll = ref
        self._seq += 1

    def ensure_poll(self) -> None:
        if self.poll is None:
            self.poll = self.actor.next_messages.remote()


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
    entries = [p or os.getcwd() for p in __import__("sys").path]
    current = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(([current] if current else []) + entries)


def _resource_shape(resources: "Resources") -> tuple:
    custom = tuple(sorted((resources.custom_resources or {}).items()))
    return (resources.cpu_total(), resources.gpu_total(), custom)


class RayExecutor(Executor):
    """Trials as Ray actors on a Ray cluster (an existing one at `address`, or one started on 127.0.0.1)."""

    def __init__(self, num_cpus: float | None = None, num_gpus: int | None = None, resources: dict | None = None,
                 address: str | None = None):
        if address is None or _is_loopback(address):
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
                ray.init(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources, include_dashboard=False,
                         _node_ip_address="127.0.0.1", log_to_driver=True)
            self._connected_ray = True
        total = ray.cluster_resources()
        custom = {k: v for k, v in total.items()
                  if k not in ("CPU", "GPU", "memory", "object_store_memory") and not k.startswith("node:")
                  and not k.startswith("accelerator_type:")}
        cluster_cpus, cluster_gpus = total.get("CPU", 0), int(total.get("GPU", 0))
        self.pool = ResourcePool(
            cluster_cpus if num_cpus is None else min(num_cpus, cluster_cpus),
            cluster_gpus if num_gpus is None else min(num_gpus, cluster_gpus),
            custom,
        )
        self._actor_class = ray.remote(TrialActor)
        self._actors: list[_ActorHandle] = []
        self._by_trial: dict[str, _ActorHandle] = {}

    # -- resources ---------------------------------------------------------------------------------
    def has_resources(self, resources: "Resources") -> bool:
        return self.pool.fits(resources)

    def never_fits(self, resources: "Resources") -> str | None:
        return self.pool.never_fits(resources)

    def resource_summary(self) -> str:
        return self.pool.summary() + " (Ray cluster)"

    # -- trial lifecycle ---------------------------------------------------------------------------
    def start_trial(self, trial: "Trial", restore_path: str | None = None) -> None:
        gpu_ids = self.pool.acquire(trial.resources)
        threads = max(1, int(trial.resources.cpu_total()))
        handle = self._get_actor(trial.resources)
        handle.trial = trial
        handle.gpu_ids = gpu_ids
        self._by_trial[trial.trial_id] = handle
        key, blob = trainable_blob(trial.trainable_name)
        env = {"TUNELAB_TRIAL_ID": trial.trial_id, "TUNELAB_TRIAL_DIR": trial.logdir or ""}
        env.update({var: str(threads) for var in THREAD_ENV_VARS})
        payload = {
            "trial_id": trial.trial_id,
            "trainable_key": key,
            "trainable_blob": None if key in handle.known_keys else blob,
            "config": _dumps_config(trial.config),
            "logdir": trial.logdir,
            "restore_path": restore_path,
            "num_threads": threads,
            "env": env,
        }
        handle.known_keys.add(key)
        handle.send((P.START, payload))

    def continue_trial(self, trial: "Trial") -> None:
        self._handle(trial).send((P.CONTINUE,))

    def stop_trial(self, trial: "Trial") -> None:
        handle = self._by_trial.get(trial.trial_id)
        if handle is None:
            return
        handle.send((P.STOP,), expect_reply=False)
        self._release(trial)

    def save_trial(self, trial: "Trial") -> str | None:
        self._handle(trial).send((P.SAVE,))
        path, error = self._await(trial, P.SAVED)
        if error:
            raise TrialCallFailed(f"Saving a checkpoint of trial {trial} failed:\n{error}")
        return path

    def reset_trial(self, trial: "Trial", new_config: dict) -> bool:
        self._handle(trial).send((P.RESET, _dumps_config(new_config)))
        (ok,) = self._await(trial, P.RESET_DONE)
        return bool(ok)

    def restore_trial(self, trial: "Trial", checkpoint_path: str) -> None:
        self._handle(trial).send((P.RESTORE, checkpoint_path))
        (error,) = self._await(trial, P.RESTORED)
        if error:
            raise TrialCallFailed(f"Restoring trial {trial} from {checkpoint_path} failed:\n{error}")

    def get_events(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        for handle in list(self._actors):
            while handle.backlog:  # left over from a synchronous call
                event = self._accept(handle, handle.backlog.pop(0))
                if event is not None:
                    events.append(event)
        if events:
            return events
        busy = [h for h in self._actors if h.trial is not None]
        if not busy:
            if timeout:
                time.sleep(min(timeout, 0.05))
            return []
        for handle in busy:
            handle.ensure_poll()
        polls = [h.poll for h in busy]
        ready, _ = self._ray.wait(polls, num_returns=1, timeout=min(timeout, MAX_WAIT_S))
        if ready and len(polls) > 1:
            ready, _ = self._ray.wait(polls, num_returns=len(polls), timeout=0)
        ready_set = set(ready)
        for handle in busy:
            if handle.poll not in ready_set:
                continue
            try:
                messages = self._fetch(handle)
            except WorkerDied as died:
                trial = handle.trial
                self._discard_actor(handle)
                if trial is not None:
                    events.append(Event(trial, P.ERROR, (f"WorkerDied: {died}\n",)))
                continue
            for message in messages:
                event = self._accept(handle, message)
                if event is not None:
                    events.append(event)
        return events

    def shutdown(self) -> None:
        for handle in list(self._actors):
            self._discard_actor(handle)
        self._by_trial.clear()
        if self._connected_ray and self._ray.is_initialized():
            self._ray.shutdown()
            self._connected_ray = False

    # -- internals ---------------------------------------------------------------------------------
    def _handle(self, trial: "Trial") -> _ActorHandle:
        handle = self._by_trial.get(trial.trial_id)
        if handle is None:
            raise TuneError(f"trial {trial} is not running")
        return handle

    def _fetch(self, handle: _ActorHandle) -> list:
        """The messages of the actor's poll (waiting for it if needed); WorkerDied if the actor is gone."""
        from ray.exceptions import RayActorError, RayTaskError

        try:
            messages = self._ray.get(handle.poll)
        except (RayActorError, RayTaskError) as e:
            trial = handle.trial
            raise WorkerDied(f"the Ray actor running trial {trial} died: {type(e).__name__}: "
                             f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}") from None
        handle.poll = None
        return messages

    def _await(self, trial: "Trial", kind: str) -> tuple:
        handle = self._handle(trial)
        while True:
            handle.ensure_poll()
            try:
                messages = self._fetch(handle)
            except WorkerDied:
                self._discard_actor(handle)
                raise
            for i, message in enumerate(messages):
                if message[1] != trial.trial_id:
                    continue
                if message[0] == kind:
                    handle.backlog.extend(messages[i + 1:])
                    return message[2:]
                if message[0] == P.ERROR:
                    self._release(trial)
                    raise TrialCallFailed(f"trial {trial} failed:\n{message[2]}")

    def _accept(self, handle: _ActorHandle, message: tuple) -> Event | None:
        kind, trial_id = message[0], message[1]
        trial = handle.trial
        if trial is None or trial.trial_id != trial_id:
            return None  # a message of a trial that the driver already ended: drop it
        if kind in (P.FINISHED, P.ERROR):
            self._release(trial)
        return Event(trial, kind, message[2:])

    def _release(self, trial: "Trial") -> None:
        handle = self._by_trial.pop(trial.trial_id, None)
        if handle is None:
            return
        self.pool.release(trial.resources, handle.gpu_ids)
        handle.trial = None
        handle.gpu_ids = []

    def _get_actor(self, resources: "Resources") -> _ActorHandle:
        """An idle actor of the same resource shape, or a new one. Idle actors keep their Ray resources, so
        before a new actor is created the idle ones are killed: Ray can then place it where they were."""
        shape = _resource_shape(resources)
        idle = [h for h in self._actors if h.trial is None]
        for handle in idle:
            if handle.shape == shape:
                return handle
        for handle in idle:
            self._discard_actor(handle)
        cpu, gpu, custom = shape
        actor = self._actor_class.options(num_cpus=cpu, num_gpus=gpu, resources=dict(custom) or None,
                                          max_concurrency=4).remote()
        handle = _ActorHandle(actor, shape)
        self._actors.append(handle)
        return handle

    def _discard_actor(self, handle: _ActorHandle) -> None:
        if handle.trial is not None:
            self._release(handle.trial)
        if handle in self._actors:
            self._actors.remove(handle)
        try:
            self._ray.kill(handle.actor)
        except Exception:  # noqa: BLE001 - already dead
            pass
