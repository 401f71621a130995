"""`TrialFileLogger`: the bookkeeping every per-trial logger shares.

A logger keeps one open handle (file or writer) per trial so that a result costs one write, not an
open/close. Handles are opened lazily on the first write, in append mode (a trial started again after a
pause or a failure continues its files), closed when the trial completes or fails, and capped by an LRU:
with thousands of paused trials at most `max_open` handles stay open; an evicted one is simply reopened
on the trial's next result.
"""
from __future__ import annotations

import os
from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from tunelab.callback import Callback
from tunelab.storage.layout import hidden_tmp_path

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunelab.trial_view import TrialView

class _Closable(Protocol):
    def close(self) -> None: ...


H = TypeVar("H", bound=_Closable)


class TrialFileLogger(Callback, Generic[H], metaclass=ABCMeta):
    """Base class: subclasses implement `_open(trial)` and may override `_close(trial_id, handle)`."""

    max_open: int = 256

    def __init__(self) -> None:
        self._handles: OrderedDict[str, H] = OrderedDict()

    # -- to implement ------------------------------------------------------------------------------
    @abstractmethod
    def _open(self, trial: "TrialView") -> H:
        """Open the trial's handle in append mode (its logdir exists)."""

    def _close(self, trial_id: str, handle: H) -> None:
        handle.close()

    # -- handles -----------------------------------------------------------------------------------
    def _handle(self, trial: "TrialView") -> H | None:
        """The trial's open handle, opening it if needed; None when the trial has no logdir yet."""
        handles = self._handles
        handle = handles.get(trial.trial_id)
        if handle is not None:
            handles.move_to_end(trial.trial_id)
            return handle
        if not trial.logdir:
            return None
        os.makedirs(trial.logdir, exist_ok=True)
        handle = handles[trial.trial_id] = self._open(trial)
        if len(handles) > self.max_open:
            old_id, old = handles.popitem(last=False)
            self._close(old_id, old)
        return handle

    def _release(self, trial: "TrialView") -> None:
        """Close the trial's handle if it is open."""
        handle = self._handles.pop(trial.trial_id, None)
        if handle is not None:
            self._close(trial.trial_id, handle)

    def _forget(self, trial: "TrialView") -> None:
        """Drop any other per-trial state once the trial is over (keeps driver memory bounded)."""

    # -- callback hooks ----------------------------------------------------------------------------
    def on_trial_complete(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._release(trial)
        self._forget(trial)

    def on_trial_error(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._release(trial)
        self._forget(trial)

    def on_experiment_end(self, trials: "Sequence[TrialView]", **info: Any) -> None:
        while self._handles:
            trial_id, handle = self._handles.popitem(last=False)
            self._close(trial_id, handle)

    def on_trial_restore(self, trial: "TrialView", iteration: int) -> None:
        """The trial was restored from the checkpoint taken at `training_iteration == iteration`:
        drop the results logged after it so the history holds no iteration twice."""
        self._release(trial)


def rewrite_atomically(path: str, lines: Iterable[str]) -> None:
    """Replace `path` with `lines` (each ending in a newline) through a temp file and `os.replace`, so
    a crash leaves the old file or the new one, never half of it."""
    tmp = hidden_tmp_path(path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def keep_iteration(value: Any, iteration: int) -> bool:
    """True when a logged `training_iteration` value is absent or at most `iteration`."""
    if value in (None, ""):
        return True
    try:
        return float(value) <= iteration
    except (TypeError, ValueError):
        return True
