"""`TrialView`: a frozen snapshot of a trial, for everything that reads trials outside the controller's loop.

The controller owns the one mutable `Trial`. It publishes a new view of a trial each time it changes the
trial (status, result, config, failures), in its own thread, so a reader in another thread (the REST
server) never sees a half-changed trial and never needs a lock.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from tunelab.resources import Resources
    from tunelab.trial import Trial


class TrialView(NamedTuple):
    """What a reader may know of a trial at one moment (immutable; a named tuple because the controller
    builds one on every result, so it must be cheap). `config` and `last_result` are the trial's own
    dicts, which the controller replaces rather than changes once published: read them, never write."""

    trial_id: str
    trainable_name: str
    status: str
    config: Mapping[str, Any]
    last_result: Mapping[str, Any]
    experiment_tag: str
    resources: "Resources"
    logdir: str | None
    num_failures: int
    error_file: str | None
    has_checkpoint: bool
    local_dir: str | None  # the experiment's folder

    @classmethod
    def of(cls, trial: "Trial") -> "TrialView":
        """A snapshot of `trial` now (call it in the thread that changes the trial)."""
        return cls(trial.trial_id, trial.trainable_name, trial.status, trial.config, trial.last_result,
                   trial.experiment_tag, trial.resources, trial.logdir, trial.num_failures, trial.error_file,
                   trial.checkpoint is not None, trial.local_dir)
