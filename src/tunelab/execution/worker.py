"""Worker process main: runs one trial at a time for the driver, lock-step, and is reused across trials.

Started as `python -m tunelab.execution.worker <fd>` (never by re-importing the user's script, so
scripts without an `if __name__ == "__main__":` guard and notebook-defined trainables just work).
"""
from __future__ import annotations

import inspect
import os
import pickle
import sys
import traceback
from typing import Any

from tunelab.execution import protocol as P
from tunelab.execution.channel import Channel
from tunelab.result_keys import CONFIG
from tunelab.storage.trial_files import TrialFiles

#: after a report the driver answers within tens of microseconds: wait that long without sleeping (the
#: trial's own CPU, which is otherwise idle while it waits)
REPLY_SPIN_S = float(os.environ.get("TUNELAB_REPLY_SPIN_S", "0.0002"))


class _WorkerLoop:
    """The loop inside a worker process: runs the driver's commands for one trial at a time."""

    def __init__(self, conn: Channel):
        self.conn = conn
        self.trainables: dict[str, Any] = {}
        self.ended = False  # whether the trial being run has sent its FINISHED or ERROR
        self.files: TrialFiles | None = None  # the running trial's folders: checkpoints to and from storage

    # -- main loop ---------------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                return
            kind = message[0]
            if kind == P.START:
                self.ended = False
                self.run_trial(message[1])
                if not self.ended:  # it returned on a STOP: say so, the driver reuses us only after this
                    self._send(P.STOPPED, message[1]["trial_id"])
            elif kind == P.EXIT:
                return
            # a CONTINUE/STOP/SAVE for a trial that already ended is stale: ignore it

    def run_trial(self, payload: dict) -> None:
        trial_id = payload["trial_id"]
        try:
            payload["config"] = pickle.loads(payload["config"])
            files: TrialFiles = payload["files"]  # where the trial works on this node, and its storage
            payload["logdir"] = files.local_logdir()
            payload["env"]["TUNELAB_TRIAL_DIR"] = payload["logdir"]
            if payload.get("restore_path"):  # from storage when this node does not have it
                payload["restore_path"] = files.fetch_checkpoint(payload["restore_path"])
            self.files = files
            trainable = self._load_trainable(payload)
            self._prepare_process(payload)
            from tunelab.trainable.trainable import Trainable

            if inspect.isclass(trainable) and issubclass(trainable, Trainable):
                self._run_class(trainable, payload)
            else:
                self._run_function(trainable, payload)
        except (_Exit, KeyboardInterrupt):
            raise
        except BaseException:
            self._send(P.ERROR, trial_id, traceback.format_exc())

    def _send(self, kind: str, trial_id: str, *args: Any) -> None:
        if kind in (P.FINISHED, P.ERROR):
            self.ended = True
        self.conn.send((kind, trial_id) + args)

    def _send_result(self, trial_id: str, result: dict, checkpoint_path: str | None) -> None:
        """The driver knows the config (which may not even pickle by reference): it puts it back.
        `result` is the worker's own fresh dict (train() and report() copy what the user returned)."""
        result.pop(CONFIG, None)
        self._send(P.RESULT, trial_id, result, self._persist(checkpoint_path))

    def _persist(self, checkpoint_path: str | None) -> str | None:
        """A checkpoint written on this node: uploaded to storage, named by its canonical (driver) path."""
        if checkpoint_path is None or self.files is None:  # a plain report: no storage work at all
            return checkpoint_path
        return self.files.persist_checkpoint(checkpoint_path)

    def _fetch(self, checkpoint_path: str) -> str:
        return self.files.fetch_checkpoint(checkpoint_path) if self.files is not None else checkpoint_path

    def _load_trainable(self, payload: dict) -> Any:
        key = payload["trainable_key"]
        if key not in self.trainables:
            import cloudpickle

            blob = payload.get("trainable_blob")
            if blob is None:
                raise RuntimeError(f"worker has no code for trainable {key}")
            self.trainables[key] = cloudpickle.loads(blob)
        return self.trainables[key]

    @staticmethod
    def _prepare_process(payload: dict) -> None:
        os.environ.update(payload.get("env", {}))
        logdir = payload["logdir"]
        os.makedirs(logdir, exist_ok=True)
        os.chdir(logdir)
        threads = payload.get("num_threads")
        if threads and "torch" in sys.modules:
            try:
                sys.modules["torch"].set_num_threads(int(threads))
            except Exception:
                pass

    # -- the two kinds of trainable ----------------------------------------------------------------
    def _wait_command(self, trial_id: str, on_save: Any, on_restore: Any = None, on_reset: Any = None) -> str:
        """Block until CONTINUE or STOP; answer SAVE/RESTORE/RESET requests in between."""
        while True:
            message = self.conn.recv(spin_s=REPLY_SPIN_S)
            kind = message[0]
            if kind in (P.CONTINUE, P.STOP):
                return kind
            if kind == P.SAVE:
                try:
                    self._send(P.SAVED, trial_id, self._persist(on_save()), None)
                except Exception:
                    self._send(P.SAVED, trial_id, None, traceback.format_exc())
            elif kind == P.RESTORE:
                try:
                    if on_restore is None:
                        raise RuntimeError("this trainable cannot restore in place")
                    on_restore(self._fetch(message[1]))
                    self._send(P.RESTORED, trial_id, None)
                except Exception:
                    self._send(P.RESTORED, trial_id, traceback.format_exc())
            elif kind == P.RESET:
                ok = False
                if on_reset is not None:
                    try:
                        ok = bool(on_reset(pickle.loads(message[1])))
                    except Exception:
                        ok = False
                self._send(P.RESET_DONE, trial_id, ok)
            elif kind == P.EXIT:
                raise _Exit()
            elif kind == P.START:  # driver moved on without us noticing: should not happen
                raise RuntimeError("START received while a trial is running")

    def _run_class(self, cls: type, payload: dict) -> None:
        trial_id = payload["trial_id"]
        trainable = cls(payload["config"], logdir=payload["logdir"], trial_id=trial_id)
        try:
            if payload.get("restore_path"):
                trainable.restore(payload["restore_path"])

            def reset(new_config: dict) -> bool:
                ok = trainable.reset_config(new_config)
                if ok:
                    trainable.config = new_config
                    trainable._progress.reset_since_restore()
                return ok

            while True:
                result = trainable.train()
                self._send_result(trial_id, result, None)
                command = self._wait_command(trial_id, trainable.save, trainable.restore, reset)
                if command == P.STOP:
                    return
        finally:
            try:
                trainable.stop()
            except Exception:
                traceback.print_exc()

    def _run_function(self, fn: Any, payload: dict) -> None:
        from tunelab.trainable import session as session_mod
        from tunelab.trainable.checkpoint import Checkpoint
        from tunelab.trainable.progress_state import ProgressState
        from tunelab.trainable.trainable import find_checkpoint_dir, read_checkpoint_metadata

        trial_id = payload["trial_id"]
        progress = ProgressState(trial_id)
        checkpoint = None
        if payload.get("restore_path"):
            checkpoint_dir = find_checkpoint_dir(payload["restore_path"])
            progress.load_metadata(read_checkpoint_metadata(checkpoint_dir))
            checkpoint = Checkpoint.from_directory(checkpoint_dir)

        holder: dict = {}

        def send_result(result: dict, checkpoint_path: str | None) -> str:
            self._send_result(trial_id, result, checkpoint_path)
            command = self._wait_command(trial_id, lambda: holder["session"].latest_checkpoint_path)
            return command

        session = session_mod.Session(send_result, payload["config"], payload["logdir"], progress, checkpoint,
                                      info=payload.get("trial_info"))
        holder["session"] = session
        session_mod.set_session(session)
        try:
            returned = _call_function(fn, payload["config"], session)
        except session_mod.StopTrial:
            return
        finally:
            session_mod.set_session(None)
        if isinstance(returned, dict):
            try:
                session.report(returned)
            except session_mod.StopTrial:
                return
        if not session.reported and checkpoint is None:  # a restored trial reported before its checkpoint
            from tunelab.error import TuneError

            raise TuneError("Trial finished without reporting result! Call reporter(...) or tunelab.report(...) at least once.")
        self._send(P.FINISHED, trial_id)


def _call_function(fn: Any, config: dict, session: Any) -> Any:
    from tunelab.trainable.function_call import call_function_trainable
    from tunelab.trainable.session import Reporter

    return call_function_trainable(fn, config, lambda: Reporter(session))


class _Exit(BaseException):
    """The driver asked this worker to exit while a trial was running."""


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the driver dies, so no worker outlives a killed experiment."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> None:
    _die_with_parent()
    import socket

    fd = int(argv[1])
    if os.getppid() == 1:  # the driver died before we could ask to die with it
        return
    conn = Channel(socket.socket(fileno=fd))
    os.environ["TUNELAB_WORKER"] = "1"
    try:
        _WorkerLoop(conn).serve()
    except (_Exit, KeyboardInterrupt):
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    main(sys.argv)
