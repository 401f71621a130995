"""The in-trial session of a function trainable: `report()` (one call = one iteration, lock-step with the
driver) and `get_checkpoint()`. A report sends one message and waits for one reply."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trainable.progress_state import ProgressState

if TYPE_CHECKING:
    from tunelab.trainable.context import TuneContext

_session: "Session | None" = None


class StopTrial(BaseException):
    """Raised inside a function trainable when the driver ends the trial; unwinds user code.

    A BaseException so that a user's `except Exception:` does not swallow it.
    """


class Session:
    """Connects one running function trainable to the driver (`send_result` does the lock-step)."""

    def __init__(self, send_result: Callable[[dict, str | None], str], config: dict, logdir: str,
                 progress: ProgressState, checkpoint: Checkpoint | None, info: dict | None = None):
        self._send_result = send_result
        self.info = info or {}  # trial_name, experiment_name, resources: what get_context() answers
        self.config = config
        self.logdir = logdir
        self.progress = progress
        self.loaded_checkpoint = checkpoint
        self.latest_checkpoint_path: str | None = checkpoint.path if checkpoint is not None else None
        self.reported = False
        self._last_time = time.time()

    def report(self, metrics: dict, checkpoint: Checkpoint | None = None) -> None:
        """Send one result (and persist its checkpoint, if any) and wait for the driver's reply."""
        result = dict(metrics)
        if "__duplicate__" in result:  # seed wrapper marker: nothing new to log
            return
        elapsed = time.time() - self._last_time
        self.progress.fill(result, elapsed, self.config)
        checkpoint_path = None
        if checkpoint is not None:
            checkpoint_path = persist_checkpoint(checkpoint, self.logdir, self.progress)
            self.latest_checkpoint_path = checkpoint_path
        self.reported = True
        command = self._send_result(result, checkpoint_path)
        self._last_time = time.time()
        if command == "stop":
            raise StopTrial()


def persist_checkpoint(checkpoint: Checkpoint, logdir: str, progress: ProgressState) -> str:
    """Copy (or write) a reported checkpoint into `<logdir>/checkpoint_<iteration>/` atomically, with the
    trial's progress metadata so that a restore continues the iteration count."""
    import pickle

    from tunelab.trainable.checkpoint import checkpoint_dir_name
    from tunelab.trainable.trainable import METADATA_FILE, write_checkpoint_dir

    final_dir = os.path.join(logdir, checkpoint_dir_name(progress.iteration))
    if checkpoint.path is not None and os.path.abspath(checkpoint.path) == os.path.abspath(final_dir):
        with open(os.path.join(final_dir, METADATA_FILE), "wb") as f:
            pickle.dump(progress.metadata(), f)
        return final_dir

    def write(tmp_dir: str) -> None:
        checkpoint.to_directory(tmp_dir)
        meta = progress.metadata()
        meta["saved_as_dict"] = checkpoint.is_dict()
        with open(os.path.join(tmp_dir, METADATA_FILE), "wb") as f:
            pickle.dump(meta, f)

    return write_checkpoint_dir(final_dir, write)


def _current() -> Session:
    if _session is None:
        raise TuneError(
            "tunelab.report() / get_checkpoint() / get_context() was called outside a trial. Call it from inside "
            "the function you pass to tunelab.run(...) or tunelab.Tuner(...) (it runs in a worker process)."
        )
    return _session


def report(metrics: dict | None = None, *, checkpoint: Checkpoint | None = None,
           checkpoint_dir_name: str | None = None, **kwargs: Any) -> None:
    """Report one iteration's metrics from a function trainable (and optionally a checkpoint, copied into
    the trial folder as `checkpoint_<iteration>/` before this returns).

    Blocks until the driver has processed the result: the driver may end the trial here (a `done=True`
    result, a stop criterion or the scheduler), in which case this call does not return.
    """
    if checkpoint_dir_name is not None:
        raise TuneError(f"report(checkpoint_dir_name={checkpoint_dir_name!r}) is not supported: tunelab names "
                        "checkpoint folders checkpoint_<iteration> (restores and the CLI find them by that name)")
    merged = dict(metrics or {})
    merged.update(kwargs)
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        raise TuneError(f"report(checkpoint=...) needs a tunelab.Checkpoint, got {type(checkpoint).__name__}")
    _current().report(merged, checkpoint)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint this trial resumes from (after a failure, pause or resume), or None."""
    session = _current()
    if session.loaded_checkpoint is None:
        return None
    return session.loaded_checkpoint


def get_trial_dir() -> str:
    """The trial's folder (also the working directory of the trainable)."""
    return _current().logdir


def get_context() -> "TuneContext":
    """The running trial's context: `get_trial_id()`, `get_trial_name()`, `get_trial_dir()`,
    `get_experiment_name()`, `get_trial_resources()` (as Ray's TuneContext)."""
    import os

    from tunelab.resources import Resources
    from tunelab.trainable.context import TuneContext

    session = _current()
    info = session.info
    trial_id = session.progress.trial_id
    return TuneContext(trial_id=trial_id, trial_name=info.get("trial_name") or trial_id, trial_dir=session.logdir,
                       experiment_name=info.get("experiment_name") or os.path.basename(os.path.dirname(session.logdir)),
                       resources=info.get("resources") or Resources())


def set_session(session: Session | None) -> None:
    global _session
    _session = session


class Reporter:
    """The seed's `reporter(**metrics)` handed to `train(config, reporter)`."""

    def __init__(self, session: Session):
        self._session = session

    def __call__(self, **metrics: Any) -> None:
        self._session.report(metrics)
