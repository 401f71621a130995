"""Trial folders: creation, error files, the status file and checkpoint retention."""
from __future__ import annotations

import datetime
import os
import shutil
from typing import TYPE_CHECKING

from tunelab import metrics
from tunelab.result_keys import TRAINING_ITERATION
from tunelab.storage.layout import ERROR_FILE, TRIAL_STATE_FILE
from tunelab.trainable.checkpoint import Checkpoint

MAX_LOGDIR_LEN = 200

if TYPE_CHECKING:
    from tunelab.trial import Trial


def ensure_logdir(trial: "Trial") -> str:
    """Create the trial's folder `<experiment dir>/<name>_<id>` once and return it."""
    if trial.logdir is None:
        parent = trial.local_dir or os.getcwd()
        trial.logdir = os.path.join(parent, trial.dirname(MAX_LOGDIR_LEN - len(parent) - 1))
    os.makedirs(trial.logdir, exist_ok=True)
    return trial.logdir


def write_error(trial: "Trial", text: str) -> str:
    """Append a failure's traceback to `<logdir>/error.txt` (every failure is kept) and return the path."""
    logdir = ensure_logdir(trial)
    path = os.path.join(logdir, ERROR_FILE)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    with open(path, "a") as f:
        f.write(f"Failure # {trial.num_failures} (occurred at {stamp})\n{text.rstrip()}\n\n")
    trial.error_file = path
    trial.error_msg = text.strip().splitlines()[-1] if text.strip() else text
    return path


def write_trial_state(trial: "Trial") -> None:
    """`<logdir>/trial_state.json`: the trial's status as readers of the folder see it, rewritten on each
    status change so `tunelab show` and ExperimentAnalysis know running from finished trials. (The
    journal, not this file, is what resume trusts.)"""
    import json

    if not trial.logdir or not os.path.isdir(trial.logdir):
        return
    checkpoint = trial.checkpoint.path if trial.checkpoint is not None else None
    state = {
        "trial_id": trial.trial_id, "status": trial.status, "trainable_name": trial.trainable_name,
        "experiment_tag": trial.experiment_tag, "num_failures": trial.num_failures,
        "checkpoint": os.path.relpath(checkpoint, trial.logdir) if checkpoint else None,
        "error_file": os.path.basename(trial.error_file) if trial.error_file else None,
    }
    from tunelab.loggers.base import rewrite_atomically

    rewrite_atomically(os.path.join(trial.logdir, TRIAL_STATE_FILE), [json.dumps(state)])


class CheckpointKeeper:
    """Keeps a trial's newest checkpoint always, and the best `keep` ones by `score_attr` (prefix
    `min-` to minimise); deletes the rest from disk.

    Its state is journaled (each checkpoint with its score, each deletion), and `restore` rebuilds it on
    resume, so retention goes on across a driver kill as if the experiment had never stopped."""

    def __init__(self, keep: int | None, score_attr: str | None):
        self.keep = keep
        self.score_attr = score_attr or TRAINING_ITERATION
        self.mode_min = self.score_attr.startswith("min-")
        if self.mode_min:
            self.score_attr = self.score_attr[4:]
        self.kept: list[tuple[float, str]] = []

    def score(self, result: dict) -> float:
        """The retention score of a checkpoint taken at `result` (higher is better; NaN/inf/non-numbers
        score -inf, so they are the first to go)."""
        return metrics.score(result.get(self.score_attr), "min" if self.mode_min else "max")

    def add(self, path: str, score: float) -> None:
        """Record the checkpoint at `path` (the newest); `prune` then deletes what is no longer kept, once
        the new checkpoint is journaled (a kill in between never leaves a trial without a checkpoint)."""
        self.kept = [(s, p) for s, p in self.kept if p != path]
        self.kept.append((score, path))

    def restore(self, kept: list[tuple[float, str]]) -> None:
        """Take back journaled state: (score, path) in the order they were added, the newest last."""
        self.kept = list(kept)

    def prune(self, newest: str | None = None) -> list[str]:
        """Delete the checkpoints beyond the best `keep` (the newest one always stays); returns them."""
        if self.keep is None or len(self.kept) <= self.keep:
            return []
        if newest is None:
            newest = self.kept[-1][1]
        best = sorted(self.kept, key=lambda sp: sp[0], reverse=True)[: self.keep]
        survivors = {p for _, p in best} | {newest}
        deleted = [p for _, p in self.kept if p not in survivors]
        for old in deleted:
            shutil.rmtree(old, ignore_errors=True)
        self.kept = [(s, p) for s, p in self.kept if p in survivors]
        return deleted

    def best(self) -> Checkpoint | None:
        if not self.kept:
            return None
        return Checkpoint.from_directory(max(self.kept, key=lambda sp: sp[0])[1])
