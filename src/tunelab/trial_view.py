"""`TrialView`: a frozen snapshot of a trial, for everything that reads trials outside the controller's loop.

The controller owns the one mutable `Trial`. It publishes a new view of a trial each time it changes the
trial (status, result, config, checkpoint, failures), in its own thread, so a reader in another thread
(the REST server) never sees a half-changed trial and never needs a lock. Schedulers get views too: the
event's trial and `runner.get_trials()` inside an experiment are views, so a scheduler can read any
trial but change none (it asks for changes with actions, `tunelab.schedulers.actions`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from tunelab.resources import Resources
    from tunelab.trainable.checkpoint import Checkpoint
    from tunelab.trial import Trial

_FINISHED = ("TERMINATED", "ERROR")  # Trial.TERMINATED, Trial.ERROR (trial.py imports this module)


def trial_name(trainable_name: str, config: Mapping[str, Any], experiment_tag: str,
               custom_trial_name: str | None) -> str:
    """`str(trial)`: the custom name, else `<trainable>[_<env>][_<tag>]` with "/" made "_" (the seed's)."""
    if custom_trial_name:
        return custom_trial_name
    identifier = trainable_name
    env = config.get("env") if isinstance(config, Mapping) else None
    if env:
        identifier += "_" + str(env)
    if experiment_tag:
        identifier += "_" + experiment_tag
    return identifier.replace("/", "_")


class TrialView(NamedTuple):
    """What a reader may know of a trial at one moment (immutable; a named tuple because the controller
    builds one on every result, so it must be cheap). `config` and `last_result` are the trial's own
    dicts, which the controller replaces rather than changes once published: read them, never write.

    It reads like a `Trial` (the same attributes, `is_finished()`, `has_checkpoint()`, the same `str()`),
    so code written against 2018 trials reads views unchanged. Two views of one trial are equal and hash
    alike (a trial is its `trial_id`), so a scheduler that keys a dict by trial finds a trial again in
    its next, newer view.
    """

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
    checkpoint: "Checkpoint | None"
    local_dir: str | None  # the experiment's folder
    evaluated_params: Mapping[str, Any]
    experiment_name: str | None
    custom_trial_name: str | None
    max_failures: int
    error_msg: str | None

    @classmethod
    def of(cls, trial: "Trial") -> "TrialView":
        """A snapshot of `trial` now (call it in the thread that changes the trial)."""
        return cls(trial.trial_id, trial.trainable_name, trial.status, trial.config, trial.last_result,
                   trial.experiment_tag, trial.resources, trial.logdir, trial.num_failures, trial.error_file,
                   trial.checkpoint, trial.local_dir, trial.evaluated_params, trial.experiment_name,
                   trial.custom_trial_name, trial.max_failures, trial.error_msg)

    def is_finished(self) -> bool:
        return self.status in _FINISHED

    def has_checkpoint(self) -> bool:
        return self.checkpoint is not None

    def __str__(self) -> str:
        return trial_name(self.trainable_name, self.config, self.experiment_tag, self.custom_trial_name)

    def __repr__(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TrialView):
            return self.trial_id == other.trial_id
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        if isinstance(other, TrialView):
            return self.trial_id != other.trial_id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.trial_id)


if TYPE_CHECKING:
    #: what a scheduler hook may be handed: a view inside an experiment, a `Trial` when user code or a
    #: 2018 test drives a scheduler by hand
    from typing import TypeAlias

    TrialLike: TypeAlias = "Trial | TrialView"
