"""`Trial`: one run of a trainable on one config, and its state as the controller sees it."""
from __future__ import annotations

import os
import re
from typing import Any

from tunelab.error import TuneError
from tunelab.experiment import resolve_local_dir
from tunelab.resources import Resources
from tunelab.result_keys import (
    DONE,
    EPISODE_REWARD_MEAN,
    MEAN_ACCURACY,
    MEAN_LOSS,
    PID,
    TIME_TOTAL_S,
    TIMESTEPS_TOTAL,
    TRAINING_ITERATION,
)
from tunelab.stopper import Stopper, make_stopper
from tunelab.storage.remote import Storage
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trial_view import trial_name

__all__ = ["Trial", "Resources", "Checkpoint"]

MAX_LEN_IDENTIFIER = int(os.environ.get("TUNELAB_MAX_LEN_IDENTIFIER", "130"))
_UNSAFE_PATH_CHARS = re.compile(r"[/\\()\[\]<>:\"|?*\s']")


class Trial:
    """A trial: a trainable, its config and everything the controller tracks about its run.

    States move PENDING -> RUNNING -> (PAUSED -> PENDING/RUNNING ...) -> TERMINATED | ERROR, and only
    the controller changes them. Schedulers and searchers read trials; tests build them by hand.
    """

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"

    def __init__(
        self,
        trainable_name: str,
        config: dict | None = None,
        trial_id: str | None = None,
        local_dir: str | None = None,
        experiment_tag: str = "",
        resources: Resources | None = None,
        stopping_criterion: Any = None,
        checkpoint_freq: int = 0,
        checkpoint_at_end: bool = False,
        keep_checkpoints_num: int | None = None,
        checkpoint_score_attr: str | None = None,
        restore_path: str | None = None,
        max_failures: int = 0,
        evaluated_params: dict | None = None,
        experiment_name: str | None = None,
        custom_trial_name: str | None = None,
        custom_dirname: str | None = None,
        storage: "Storage | None" = None,
    ):
        self.trainable_name = trainable_name
        self.config = config if config is not None else {}
        self.trial_id = trial_id or os.urandom(4).hex()
        self.local_dir = resolve_local_dir(local_dir)  # a hand-built Trial writes under the results folder
        self.experiment_tag = experiment_tag
        self.resources = resources or Resources(cpu=1, gpu=0)
        self.stopping_criterion = stopping_criterion if stopping_criterion is not None else {}
        self.stopper: Stopper | None = make_stopper(stopping_criterion)
        self.checkpoint_freq = checkpoint_freq
        self.checkpoint_at_end = checkpoint_at_end
        self.keep_checkpoints_num = keep_checkpoints_num
        self.checkpoint_score_attr = checkpoint_score_attr
        self.restore_path = restore_path
        self.max_failures = max_failures
        self.evaluated_params = evaluated_params or {}
        self.experiment_name = experiment_name
        self.custom_trial_name = custom_trial_name  # from trial_name_creator: str(trial) and the folder
        self.custom_dirname = custom_dirname  # from trial_dirname_creator: the folder name, exactly
        self.storage = storage  # the experiment's storage (`<storage_path>/<name>`), or None
        self.status = Trial.PENDING
        self.last_result: dict = {}
        self.logdir: str | None = None
        self.num_failures = 0
        self.error_file: str | None = None
        self.error_msg: str | None = None
        self.checkpoint: Checkpoint | None = None
        self.best_checkpoint: Checkpoint | None = None
        if restore_path:
            self.checkpoint = Checkpoint.from_directory(restore_path)
        self.last_perturbation_time: float = 0.0  # used by PBT
        self.start_time: float | None = None

    def __getattr__(self, name: str) -> Any:
        """Only for attributes never set: the seed's test doubles subclass Trial without calling
        `Trial.__init__` (setting just `trainable_name`, `config`, `experiment_tag`, `resources`); such a
        trial still gets the unique `trial_id` that schedulers key their records by."""
        if name == "trial_id":
            self.trial_id = os.urandom(4).hex()
            return self.trial_id
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- state -------------------------------------------------------------------------------------
    def is_finished(self) -> bool:
        return self.status in (Trial.TERMINATED, Trial.ERROR)

    def has_checkpoint(self) -> bool:
        return self.checkpoint is not None

    def should_stop(self, result: dict) -> bool:
        """True when the result is final: `done`, or a stop criterion is met (TuneError if one is not reported)."""
        if result.get(DONE):
            return True
        return self.stopper is not None and self.stopper(self.trial_id, result)

    def should_checkpoint(self) -> bool:
        """True when `checkpoint_freq` says the latest result must be followed by a checkpoint."""
        iteration = self.last_result.get(TRAINING_ITERATION)
        if not self.checkpoint_freq or not iteration:
            return False
        return iteration % self.checkpoint_freq == 0

    def update_last_result(self, result: dict, terminate: bool = False) -> None:
        if terminate:
            result[DONE] = True
        self.last_result = result

    # -- the seed's hand-driven lifecycle -----------------------------------------------------------
    # In 2018 a Trial ran its own Ray actor: `start()` created it, `stop()` destroyed it, and scheduler
    # tests and mock runners drove trials by hand. In tunelab the controller (TrialRunner) starts, pauses
    # and stops the trials it drives; these methods make the seed's state changes for a trial that no
    # runner drives, with the seed's checks, and start no process.
    def start(self, checkpoint: Checkpoint | str | None = None) -> None:
        """Mark the trial RUNNING after checking its trainable can run (TuneError naming it if not) and
        creating its folder; `checkpoint` (a Checkpoint or a checkpoint folder) is what it resumes from."""
        from tunelab.registry import runnable_trainable
        from tunelab.storage.trial_dir import ensure_logdir

        runnable_trainable(self.trainable_name)
        if checkpoint is not None:
            self.checkpoint = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.from_directory(
                str(checkpoint))
        ensure_logdir(self)
        self.status = Trial.RUNNING

    def stop(self, error: bool = False, error_msg: str | None = None, stop_logger: bool = True) -> None:
        """End the trial: ERROR with `error` (writing `error_msg` to its error file if given), else TERMINATED.
        `stop_logger` is the seed's flag; tunelab's loggers are callbacks that close with the experiment."""
        if error_msg:
            from tunelab.storage.trial_dir import write_error

            write_error(self, error_msg)
        self.status = Trial.ERROR if error else Trial.TERMINATED

    def pause(self) -> None:
        """A RUNNING trial becomes PAUSED (TuneError in any other state)."""
        self._move(Trial.RUNNING, Trial.PAUSED, "pause")

    def unpause(self) -> None:
        """A PAUSED trial becomes PENDING: a scheduler may choose it to run again."""
        self._move(Trial.PAUSED, Trial.PENDING, "unpause")

    def resume(self) -> None:
        """A PAUSED trial becomes RUNNING again."""
        self._move(Trial.PAUSED, Trial.RUNNING, "resume")

    def _move(self, expected: str, new: str, action: str) -> None:
        if self.status != expected:
            raise TuneError(f"Trial {self} is {self.status}; only a {expected} trial can {action}")
        self.status = new

    # -- persistence (experiment journal) ----------------------------------------------------------
    _SPEC_FIELDS = ("trainable_name", "config", "trial_id", "local_dir", "experiment_tag", "resources",
                    "stopping_criterion", "checkpoint_freq", "checkpoint_at_end", "keep_checkpoints_num",
                    "checkpoint_score_attr", "max_failures", "evaluated_params", "experiment_name",
                    "custom_trial_name", "custom_dirname", "storage")

    def to_spec(self) -> dict:
        """What rebuilds this trial after a restart of the driver (see `from_spec`)."""
        spec = {name: getattr(self, name) for name in self._SPEC_FIELDS}
        spec["logdir"] = self.logdir
        return spec

    @classmethod
    def from_spec(cls, spec: dict) -> "Trial":
        spec = dict(spec)
        logdir = spec.pop("logdir", None)
        trial = cls(**spec)
        trial.logdir = logdir
        return trial

    # -- names -------------------------------------------------------------------------------------
    def __str__(self) -> str:
        return trial_name(self.trainable_name, self.config, self.experiment_tag, self.custom_trial_name)

    def __repr__(self) -> str:
        return str(self)

    def dirname(self, max_len: int = MAX_LEN_IDENTIFIER + 20) -> str:
        """A safe folder name `<name>_<trial_id>` of at most `max_len` characters (the id is never cut), or
        exactly the name `trial_dirname_creator` gave."""
        if self.custom_dirname:
            return self.custom_dirname
        suffix = f"_{self.trial_id}"
        room = max(8, min(MAX_LEN_IDENTIFIER, max_len - len(suffix)))
        return _UNSAFE_PATH_CHARS.sub("_", str(self))[:room] + suffix

    def progress_string(self) -> str:
        """The seed's one-line status: `STATUS [pid=P], 12 s, 3 iter, 300 ts, 0.95 acc`."""
        parts = [self.status]
        if self.num_failures:
            parts[0] += f", {self.num_failures} failures: {self.error_file}"
        result = self.last_result
        if not result:
            return parts[0]
        if PID in result:
            parts[0] += f" [pid={result[PID]}]"
        pieces = []
        if result.get(TIME_TOTAL_S) is not None:
            pieces.append(f"{int(result[TIME_TOTAL_S])} s")
        if result.get(TRAINING_ITERATION) is not None:
            pieces.append(f"{result[TRAINING_ITERATION]} iter")
        if result.get(TIMESTEPS_TOTAL) is not None:
            pieces.append(f"{result[TIMESTEPS_TOTAL]} ts")
        for key, label in ((EPISODE_REWARD_MEAN, "rew"), (MEAN_LOSS, "loss"), (MEAN_ACCURACY, "acc")):
            value = result.get(key)
            if isinstance(value, (int, float)):
                pieces.append(f"{value:.3g} {label}")
        return ", ".join([parts[0]] + pieces)
