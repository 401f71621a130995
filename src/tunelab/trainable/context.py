"""`TuneContext`: what a running function trainable can ask about its own trial (`tunelab.get_context()`).

A trial is one process, so the distributed-training questions Ray's TrainContext also answers have the
single-worker answers (world size 1, rank 0).
"""
from __future__ import annotations

from typing import Any

from tunelab.resources import Resources


class TuneContext:
    """The trial's id, name, folder, experiment name and resources (as `ray.tune.TuneContext`)."""

    def __init__(self, trial_id: str, trial_name: str, trial_dir: str, experiment_name: str,
                 resources: Resources):
        self._trial_id = trial_id
        self._trial_name = trial_name
        self._trial_dir = trial_dir
        self._experiment_name = experiment_name
        self._resources = resources

    def get_trial_id(self) -> str:
        return self._trial_id

    def get_trial_name(self) -> str:
        """The trial's name, `str(trial)` on the driver (e.g. `train_fn_3_lr=0.01`)."""
        return self._trial_name

    def get_trial_dir(self) -> str:
        """The trial's folder (also the trainable's working directory)."""
        return self._trial_dir

    def get_experiment_name(self) -> str:
        return self._experiment_name

    def get_trial_resources(self) -> Resources:
        """The trial's resources as `tunelab.trial.Resources` (Ray returns a PlacementGroupFactory)."""
        return self._resources

    def get_world_size(self) -> int:
        return 1

    def get_world_rank(self) -> int:
        return 0

    def get_local_rank(self) -> int:
        return 0

    def get_local_world_size(self) -> int:
        return 1

    def get_node_rank(self) -> int:
        return 0

    def get_metadata(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"TuneContext(trial_name={self._trial_name!r}, trial_dir={self._trial_dir!r})"
