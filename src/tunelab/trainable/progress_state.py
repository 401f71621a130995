"""Auto-filled result fields, shared by class and function trainables so both log identical results."""
from __future__ import annotations

import datetime
import os
import socket
import time
from typing import Any

from tunelab.result_keys import (
    DONE,
    EPISODES_THIS_ITER,
    EPISODES_TOTAL,
    MEAN_LOSS,
    NEG_MEAN_LOSS,
    TIME_THIS_ITER_S,
    TIMESTEPS_THIS_ITER,
    TIMESTEPS_TOTAL,
)

_HOSTNAME = os.uname()[1] if hasattr(os, "uname") else socket.gethostname()
_NODE_IP = "127.0.0.1"


class ProgressState:
    """Counters a trial carries across results (and across restores, through its checkpoint metadata)."""

    def __init__(self, trial_id: str = "default", experiment_id: str | None = None):
        import uuid

        self.trial_id = trial_id
        self.experiment_id = experiment_id or uuid.uuid4().hex
        self.iteration = 0
        self.time_total = 0.0
        self.timesteps_total: float | None = None
        self.episodes_total: float | None = None
        self.reset_since_restore()

    def reset_since_restore(self) -> None:
        self.time_since_restore = 0.0
        self.timesteps_since_restore = 0
        self.iterations_since_restore = 0

    def metadata(self) -> dict:
        return {
            "experiment_id": self.experiment_id,
            "iteration": self.iteration,
            "time_total": self.time_total,
            "timesteps_total": self.timesteps_total,
            "episodes_total": self.episodes_total,
        }

    def load_metadata(self, meta: dict) -> None:
        self.experiment_id = meta.get("experiment_id", self.experiment_id)
        self.iteration = meta.get("iteration", 0)
        self.time_total = meta.get("time_total", 0.0)
        self.timesteps_total = meta.get("timesteps_total")
        self.episodes_total = meta.get("episodes_total")
        self.reset_since_restore()

    def fill(self, result: dict, time_this_iter: float, config: dict) -> dict:
        """Fill the auto fields of `result` in place (API.md: "Results every trial reports") and return it."""
        self.iteration += 1
        self.iterations_since_restore += 1
        if result.get(TIME_THIS_ITER_S) is not None:
            time_this_iter = result[TIME_THIS_ITER_S]
        self.time_total += time_this_iter
        self.time_since_restore += time_this_iter
        ts_total = result.get(TIMESTEPS_TOTAL)
        ts_iter = result.get(TIMESTEPS_THIS_ITER)
        if ts_total is not None and ts_iter is None:
            ts_iter = ts_total - (self.timesteps_total or 0)
            result[TIMESTEPS_THIS_ITER] = ts_iter
            self.timesteps_total = ts_total
        elif ts_iter is not None:
            self.timesteps_total = (self.timesteps_total or 0) + ts_iter
        result.setdefault(TIMESTEPS_TOTAL, self.timesteps_total)
        if ts_iter:
            self.timesteps_since_restore += ts_iter
        episodes = result.get(EPISODES_THIS_ITER)
        if episodes is not None:
            self.episodes_total = (self.episodes_total or 0) + episodes
        result.setdefault(DONE, False)
        result.setdefault(EPISODES_TOTAL, self.episodes_total)
        mean_loss = result.get(MEAN_LOSS)
        if mean_loss is not None and NEG_MEAN_LOSS not in result:
            try:
                result[NEG_MEAN_LOSS] = -mean_loss
            except TypeError:
                pass
        now = time.time()
        result.update(
            training_iteration=self.iteration,
            time_this_iter_s=time_this_iter,
            time_total_s=self.time_total,
            trial_id=self.trial_id,
            experiment_id=self.experiment_id,
            date=datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S"),
            timestamp=int(now),
            pid=os.getpid(),
            hostname=_HOSTNAME,
            node_ip=_NODE_IP,
            config=config,
            time_since_restore=self.time_since_restore,
            timesteps_since_restore=self.timesteps_since_restore,
            iterations_since_restore=self.iterations_since_restore,
        )
        return result


def check_result(result: Any, where: str) -> dict:
    if not isinstance(result, dict):
        from tunelab.error import TuneError

        raise TuneError(f"{where} must return a dict of metrics, got {type(result).__name__}: {result!r}")
    return result
