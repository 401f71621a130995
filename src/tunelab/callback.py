"""`Callback`: hooks the controller calls on the driver as trials start, report, checkpoint and end.

Loggers (JSON, CSV, TensorBoard), the status table and the REST server are callbacks too. Every hook
gets `iteration` (the controller's step count), `trials` (all trials so far) and the trial concerned, as
read-only `TrialView`s (the attributes of a `Trial`: trial_id, config, last_result, logdir, status, ...,
frozen at the moment of the hook): only the controller changes trials.
Hooks run in the controller's single thread: keep them fast.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunelab.trial_view import TrialView


class Callback:
    """Base class: override the hooks you need; each default does nothing."""

    def setup(self, **info: Any) -> None:
        """Called once before the first trial starts; `info` has `experiment_path` (may be None)."""

    def on_trial_start(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        """The trial was started (for the first time, or again after a pause or a failure)."""

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        """The trial reported `result` (already auto-filled; `done` is set on the final one)."""

    def on_checkpoint(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", checkpoint: Any, **info: Any
    ) -> None:
        """A checkpoint of the trial was saved."""

    def on_trial_complete(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        """The trial ended normally (TERMINATED)."""

    def on_trial_error(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        """The trial failed for good (ERROR); `trial.error_file` holds the traceback."""

    def on_trial_recover(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        """The trial failed and will be restarted from its latest checkpoint."""

    def on_trial_restore(self, trial: "TrialView", iteration: int) -> None:
        """The trial restarts from the checkpoint taken at `training_iteration == iteration` (0: from
        scratch) after a failure or a resume: results logged after it will be reported again."""

    def on_experiment_end(self, trials: "Sequence[TrialView]", **info: Any) -> None:
        """Every trial has finished (or the experiment was stopped)."""


class CallbackError(Exception):
    """A callback raised: the controller stops the experiment cleanly (its state stays resumable)."""


def _call(callbacks: list[Callback], hook: str, *args: Any, **kwargs: Any) -> None:
    for cb in callbacks:
        try:
            getattr(cb, hook)(*args, **kwargs)
        except Exception as exc:
            raise CallbackError(f"callback {type(cb).__name__}.{hook} raised {exc!r}") from exc


class CallbackList(Callback):
    """Calls each callback in order; an exception in one becomes a CallbackError naming it."""

    def __init__(self, callbacks: list[Callback]):
        self.callbacks = list(callbacks)

    def setup(self, **info: Any) -> None:
        _call(self.callbacks, "setup", **info)

    def on_trial_start(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        _call(self.callbacks, "on_trial_start", iteration, trials, trial, **info)

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        for cb in self.callbacks:  # the per-result path: inlined
            try:
                cb.on_trial_result(iteration, trials, trial, result, **info)
            except Exception as exc:
                raise CallbackError(f"callback {type(cb).__name__}.on_trial_result raised {exc!r}") from exc

    def on_checkpoint(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", checkpoint: Any, **info: Any
    ) -> None:
        _call(self.callbacks, "on_checkpoint", iteration, trials, trial, checkpoint, **info)

    def on_trial_complete(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        _call(self.callbacks, "on_trial_complete", iteration, trials, trial, **info)

    def on_trial_error(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        _call(self.callbacks, "on_trial_error", iteration, trials, trial, **info)

    def on_trial_recover(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        _call(self.callbacks, "on_trial_recover", iteration, trials, trial, **info)

    def on_trial_restore(self, trial: "TrialView", iteration: int) -> None:
        _call(self.callbacks, "on_trial_restore", trial, iteration)

    def on_experiment_end(self, trials: "Sequence[TrialView]", **info: Any) -> None:
        _call(self.callbacks, "on_experiment_end", trials, **info)
