"""The embedded executor: trials run in worker processes on this machine, reused across trials."""
from __future__ import annotations

import logging
import os
import selectors
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from tunelab.error import TuneError
from tunelab.execution import protocol as P
from tunelab.execution.channel import Channel
from tunelab.execution.executor import Event, Executor, TrialCallFailed, TrialStartFailed, WorkerDied
from tunelab.execution.resource_pool import ResourcePool, detect_num_cpus, detect_num_gpus
from tunelab.registry import trainable_blob
from tunelab.storage.trial_files import TrialFiles

if TYPE_CHECKING:
    from tunelab.resources import Resources
    from tunelab.trial import Trial

#: how long the driver polls for the next event before sleeping in epoll (waking a sleeping process costs
#: tens of microseconds on a VM, more than most trials' reports take to arrive while they run fast)
EVENT_SPIN_S = float(os.environ.get("TUNELAB_EVENT_SPIN_S", "0.0001"))
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
#: a stopped trial's worker must acknowledge the stop (its trainable returned) within this many seconds, or it
#: is killed (SIGKILL) and replaced: a trainable computing a long step never reads the STOP
DEFAULT_STOP_GRACE_S = 5.0
STOP_GRACE_ENV = "TUNELAB_STOP_GRACE_S"
#: how long `stop_trial` itself waits for the acknowledgement (a trial waiting at a report gives it within
#: microseconds, so the first STOP_ACK_SPIN_S are polled without sleeping; one in the middle of a step is
#: then waited for by the event loop instead)
STOP_ACK_WAIT_S = 0.01
STOP_ACK_SPIN_S = 0.0005

logger = logging.getLogger(__name__)


def resolve_stop_grace(value: float | None = None) -> float:
    """The stop grace period: `value` if given, else $TUNELAB_STOP_GRACE_S, else 5 s."""
    if value is None:
        raw = os.environ.get(STOP_GRACE_ENV)
        if raw is None:
            return DEFAULT_STOP_GRACE_S
        try:
            value = float(raw)
        except ValueError:
            raise TuneError(f"{STOP_GRACE_ENV} must be a number of seconds >= 0, got {raw!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise TuneError(f"the stop grace period must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _dumps_config(config: dict) -> bytes:
    """Configs may hold functions (`tune.function`, lambdas of the user's script): pickle them by value."""
    import cloudpickle

    return cloudpickle.dumps(config)


class _WorkerHandle:
    """The driver's handle on one worker process: its pipe, the trial it runs and the resources it holds."""

    def __init__(self, signature: tuple[str, int]):
        self.signature = signature
        self.trial: Trial | None = None
        self.stopping: Trial | None = None  # stopped by the driver, end not yet acknowledged by the worker
        self.stop_deadline = 0.0  # time.monotonic() after which a still stopping worker is killed
        self.gpu_ids: list[str] = []
        self.known_keys: set[str] = set()
        parent, child = socket.socketpair()
        env = os.environ.copy()
        gpus, threads = signature
        env["CUDA_VISIBLE_DEVICES"] = gpus
        for var in THREAD_ENV_VARS:
            env[var] = str(threads)
        env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tunelab.execution.worker", str(child.fileno())],
            pass_fds=(child.fileno(),), env=env, close_fds=True,
        )
        child.close()
        self.conn = Channel(parent)

    connected = True

    @property
    def idle(self) -> bool:
        return self.trial is None and self.stopping is None

    @property
    def label(self) -> str:
        return f"the worker process (pid {self.proc.pid})"

    def wait_exit(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def describe_exit(self) -> str:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "its connection closed"
        if code < 0:
            import signal

            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            hint = " (killed: out of memory, or killed by hand)" if name == "SIGKILL" else ""
            return f"it was killed by signal {name}{hint}"
        return f"it exited with code {code}"

    def kill(self) -> None:
        try:
            self.conn.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class LocalExecutor(Executor):
    """Worker processes on this machine; GPU ids through CUDA_VISIBLE_DEVICES, thread pools sized to CPUs."""

    def __init__(self, num_cpus: float | None = None, num_gpus: int | None = None, resources: dict | None = None,
                 stop_grace_s: float | None = None):
        self.stop_grace_s = resolve_stop_grace(stop_grace_s)
        self.pool = ResourcePool(
            detect_num_cpus() if num_cpus is None else num_cpus,
            detect_num_gpus() if num_gpus is None else num_gpus,
            resources,
        )
        self._workers: list[_WorkerHandle] = []
        self._by_trial: dict[str, _WorkerHandle] = {}
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        # a callable as selector data is an internal source (the wakeup pipe here, a listener for Ray workers)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._drain_wakeup)
        self.max_idle_workers = max(2, int(self.pool.total_cpu) + 1)

    # -- resources ---------------------------------------------------------------------------------
    def has_resources(self, resources: "Resources") -> bool:
        return self.pool.fits(resources)

    def never_fits(self, resources: "Resources") -> str | None:
        return self.pool.never_fits(resources)

    def free_cpu(self) -> float | None:
        return self.pool.total_cpu - self.pool.used_cpu

    def resource_summary(self) -> str:
        return self.pool.summary()

    # -- trial lifecycle ---------------------------------------------------------------------------
    def start_trial(self, trial: "Trial", restore_path: str | None = None) -> None:
        try:  # before any resource is taken: a trainable that cannot run fails the trial, not the experiment
            key, blob = trainable_blob(trial.trainable_name)
        except TuneError as exc:
            raise TrialStartFailed(f"trial {trial} could not start: {exc}") from None
        gpu_ids = self.pool.acquire(trial.resources)
        threads = max(1, int(trial.resources.cpu_total()))
        worker = self._get_worker(self._signature(trial, gpu_ids, threads))
        worker.trial = trial
        worker.gpu_ids = gpu_ids
        self._by_trial[trial.trial_id] = worker
        payload = {
            "trial_id": trial.trial_id,
            "trainable_key": key,
            "trainable_blob": None if key in worker.known_keys else blob,
            "config": _dumps_config(trial.config),
            # the trial's folder (mapped to the worker's node there) and its storage
            "files": TrialFiles(trial.local_dir, trial.logdir or "", trial.storage),
            "restore_path": restore_path,
            "trial_info": {"trial_name": str(trial), "experiment_name": trial.experiment_name,
                           "resources": trial.resources},
            "num_threads": threads,
            "env": {"TUNELAB_TRIAL_ID": trial.trial_id, **self._trial_env(threads)},  # + TUNELAB_TRIAL_DIR there
        }
        worker.known_keys.add(key)
        try:
            worker.conn.send((P.START, payload))
        except (OSError, ValueError):
            self._discard_worker(worker)
            self._release(trial)
            raise WorkerDied(f"the worker process for trial {trial} could not be reached") from None

    def continue_trial(self, trial: "Trial") -> None:
        self._send(trial, (P.CONTINUE,))

    def stop_trial(self, trial: "Trial") -> None:
        """Ask the trial's worker to stop it. The worker (and the trial's resources) stay reserved until it
        acknowledges that the trainable returned; one that does not within the grace period is killed."""
        worker = self._by_trial.pop(trial.trial_id, None)
        if worker is None:
            return
        worker.trial, worker.stopping = None, trial
        worker.stop_deadline = time.monotonic() + self.stop_grace_s
        if not worker.connected:  # it never started the trial: nothing to wait for
            self._discard_worker(worker)
            return
        try:
            worker.conn.send((P.STOP,))
        except (OSError, ValueError):
            self._discard_worker(worker)
            return
        self._await_stop_ack(worker, STOP_ACK_WAIT_S)

    def save_trial(self, trial: "Trial") -> str | None:
        self._send(trial, (P.SAVE,))
        path, error = self._await(trial, P.SAVED)
        if error:
            raise TrialCallFailed(f"Saving a checkpoint of trial {trial} failed:\n{error}")
        return path

    def reset_trial(self, trial: "Trial", new_config: dict) -> bool:
        self._send(trial, (P.RESET, _dumps_config(new_config)))
        (ok,) = self._await(trial, P.RESET_DONE)
        return bool(ok)

    def restore_trial(self, trial: "Trial", checkpoint_path: str) -> None:
        self._send(trial, (P.RESTORE, checkpoint_path))
        (error,) = self._await(trial, P.RESTORED)
        if error:
            raise TrialCallFailed(f"Restoring trial {trial} from {checkpoint_path} failed:\n{error}")

    def get_events(self, timeout: float) -> list[Event]:
        if not self._workers:
            if timeout:
                time.sleep(min(timeout, 0.05))
            return []
        events = self._kill_unacknowledged()
        deadlines = [w.stop_deadline for w in self._workers if w.stopping is not None]
        if deadlines:  # wake up in time to kill a worker that does not acknowledge its stop
            timeout = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
        for worker in list(self._workers):
            if worker.conn.buffered():  # left over from a synchronous call: no socket event will come
                for message in worker.conn.drain():
                    event = self._accept(worker, message)
                    if event is not None:
                        events.append(event)
        if events:
            return events
        ready = self._selector.select(0)
        if not ready and timeout:
            deadline = time.perf_counter() + min(timeout, EVENT_SPIN_S)
            while not ready and time.perf_counter() < deadline:  # a report is often microseconds away
                os.sched_yield()  # without starving a trial that shares this core
                ready = self._selector.select(0)
            if not ready:
                ready = self._selector.select(timeout)
        for key, _ in ready:
            worker = key.data
            if callable(worker):  # an internal source: wakeup() (commands wait in the controller), ...
                worker()
                continue
            try:
                messages = worker.conn.read_available()
            except EOFError:
                trial, stopping = worker.trial, worker.stopping
                why = worker.describe_exit()
                self._worker_lost(worker)
                self._discard_worker(worker)
                if stopping is not None:  # it died while stopping: it is stopped, its resources are free
                    events.append(Event(stopping, P.STOPPED, ()))
                if trial is not None:
                    events.append(Event(trial, P.ERROR, (f"WorkerDied: {worker.label} "
                                                        f"running trial {trial} died: {why}.\n",)))
                continue
            for message in messages:
                event = self._accept(worker, message)
                if event is not None:
                    events.append(event)
        return events

    def wakeup(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already pending, or shut down

    def is_stopping(self) -> bool:
        return any(w.stopping is not None for w in self._workers)

    def settle(self) -> None:
        """Wait until every stopped trial's worker acknowledged, killing those past the grace period."""
        while self.is_stopping():
            self.get_events(0.1)

    def shutdown(self) -> None:
        for worker in list(self._workers):
            try:
                worker.conn.send((P.EXIT,))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2
        for worker in list(self._workers):
            worker.wait_exit(max(0.0, deadline - time.monotonic()))
            worker.kill()
        self._workers.clear()
        self._by_trial.clear()

    # -- internals ---------------------------------------------------------------------------------
    def _accept(self, worker: _WorkerHandle, message: tuple) -> Event | None:
        kind, trial_id = message[0], message[1]
        stopping = worker.stopping
        if stopping is not None:  # the worker ends the trial the driver stopped; nothing else is news
            if stopping.trial_id == trial_id and kind in (P.FINISHED, P.ERROR, P.STOPPED):
                self._free_stopped(worker)
                return Event(stopping, P.STOPPED, ())
            return None
        trial = worker.trial
        if trial is None or trial.trial_id != trial_id or kind == P.STOPPED:
            return None  # a message of a trial that the driver already ended: drop it
        if kind in (P.FINISHED, P.ERROR):
            self._release(trial)
        return Event(trial, kind, message[2:])

    def _send(self, trial: "Trial", message: tuple) -> None:
        worker = self._by_trial.get(trial.trial_id)
        if worker is None:
            raise TuneError(f"trial {trial} is not running")
        try:
            worker.conn.send(message)
        except (OSError, ValueError):
            why = worker.describe_exit()
            self._worker_lost(worker)
            self._discard_worker(worker)
            self._release(trial)
            raise WorkerDied(f"the worker process running trial {trial} died: {why}") from None

    def _await(self, trial: "Trial", kind: str) -> tuple:
        worker = self._by_trial[trial.trial_id]
        while True:
            try:
                message = worker.conn.recv()
            except EOFError:
                why = worker.describe_exit()
                self._worker_lost(worker)
                self._discard_worker(worker)
                self._release(trial)
                raise WorkerDied(f"the worker process running trial {trial} died: {why}") from None
            if message[0] == kind and message[1] == trial.trial_id:
                return message[2:]
            if message[0] == P.ERROR and message[1] == trial.trial_id:
                self._release(trial)
                raise TrialCallFailed(f"trial {trial} failed:\n{message[2]}")

    def _release(self, trial: "Trial") -> None:
        worker = self._by_trial.pop(trial.trial_id, None)
        if worker is None:
            return
        self.pool.release(trial.resources, worker.gpu_ids)
        worker.trial = None
        worker.gpu_ids = []

    def _free_stopped(self, worker: _WorkerHandle) -> None:
        """The stopped trial's worker is done with it (acknowledged, or killed): free its resources."""
        trial, worker.stopping = worker.stopping, None
        if trial is not None:
            self.pool.release(trial.resources, worker.gpu_ids)
        worker.gpu_ids = []

    def _await_stop_ack(self, worker: _WorkerHandle, wait_s: float) -> None:
        """Read `worker`'s messages for up to `wait_s` until it acknowledges its stop (then it is idle again
        at once, without an event); a worker busy computing is left to the event loop."""
        deadline = time.monotonic() + wait_s
        while worker.stopping is not None:
            try:
                if not worker.conn.wait(max(0.0, deadline - time.monotonic()), spin_s=STOP_ACK_SPIN_S):
                    return
            except EOFError:
                self._discard_worker(worker)
                return
            for message in worker.conn.drain():
                self._accept(worker, message)

    def _kill_unacknowledged(self) -> list[Event]:
        """SIGKILL (and forget) every worker past its stop grace period: its trial is stopped for good."""
        now = time.monotonic()
        events = []
        for worker in [w for w in self._workers if w.stopping is not None and w.stop_deadline <= now]:
            trial = worker.stopping
            assert trial is not None  # selected above
            logger.warning("%s did not stop trial %s within %g s (set by %s); killing it", worker.label, trial,
                           self.stop_grace_s, STOP_GRACE_ENV)
            self._discard_worker(worker)
            events.append(Event(trial, P.STOPPED, ()))
        return events

    def _drain_wakeup(self) -> None:
        try:
            self._wake_r.recv(4096)
        except BlockingIOError:
            pass

    # -- what an executor running workers elsewhere overrides ---------------------------------------
    def _signature(self, trial: "Trial", gpu_ids: list[str], threads: int) -> tuple:
        """Trials of the same signature can share a worker: its environment is fixed at its start."""
        return (",".join(gpu_ids), threads)

    def _trial_env(self, threads: int) -> dict:
        """Environment variables a trial sets in its worker (the local worker got them at its start)."""
        return {}

    def _worker_lost(self, worker: _WorkerHandle) -> None:
        """A worker's connection closed unasked (its process died): a hint for executors whose workers
        live on machines that may be gone (the default has nothing to learn from it)."""

    def _new_worker(self, signature: tuple) -> _WorkerHandle:
        worker = _WorkerHandle(signature)
        self._selector.register(worker.conn, selectors.EVENT_READ, worker)
        return worker

    def _get_worker(self, signature: tuple) -> _WorkerHandle:
        idle = [w for w in self._workers if w.idle]
        for worker in idle:
            if worker.signature == signature:
                return worker
        if len(idle) >= self.max_idle_workers:
            self._discard_worker(idle[0])
        worker = self._new_worker(signature)
        self._workers.append(worker)
        return worker

    def _discard_worker(self, worker: _WorkerHandle) -> None:
        if worker.trial is not None:
            self._release(worker.trial)
        self._free_stopped(worker)
        if worker in self._workers:
            self._workers.remove(worker)
            try:
                self._selector.unregister(worker.conn)
            except (KeyError, ValueError):
                pass  # never registered (a worker that had not connected yet)
        worker.kill()
