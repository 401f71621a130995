"""`MedianStoppingRule`: stop a trial whose best score so far is below the median of finished trials."""
from __future__ import annotations

import logging
import statistics
from array import array
from bisect import bisect_right
from typing import TYPE_CHECKING

from tunelab.metrics import WORST_SCORE
from tunelab.result_keys import TIME_TOTAL_S
from tunelab.schedulers.trial_scheduler import FIFOScheduler, Objective, TrialScheduler
from tunelab.trial import Trial
from tunelab.validation import check_key, check_number

if TYPE_CHECKING:
    from tunelab.schedulers.actions import SchedulerRunner
    from tunelab.trial_view import TrialLike

logger = logging.getLogger(__name__)


class _History:
    """One trial's `(time, score)` results, kept compact: times plus running sums of the scores.

    The mean score over results with time <= t is then one binary search while times increase (the
    normal case); a trial restored to an earlier point makes it fall back to a scan. Unusable scores
    (NaN, inf: `WORST_SCORE`) are kept apart: they never enter a sum, so one NaN cannot turn a trial's
    mean (and with it the median) into -inf for good; a trial with only unusable scores up to t has the
    worst mean.
    """

    __slots__ = ("times", "sums", "best", "ordered", "worst_times")

    def __init__(self) -> None:
        self.times = array("d")
        self.sums = array("d")
        self.best = WORST_SCORE
        self.ordered = True
        self.worst_times = array("d")

    def add(self, time: float, score: float) -> None:
        if score == WORST_SCORE:
            self.worst_times.append(time)
            return
        if self.times and time < self.times[-1]:
            self.ordered = False
        self.times.append(time)
        self.sums.append((self.sums[-1] if self.sums else 0.0) + score)
        self.best = max(self.best, score)

    def mean_until(self, time: float) -> float | None:
        """Mean usable score over the results with time <= `time`; `WORST_SCORE` if those results were
        all unusable; None if there are none."""
        if self.ordered:
            count = bisect_right(self.times, time)
            mean = self.sums[count - 1] / count if count else None
        else:
            picked = [self.sums[i] - (self.sums[i - 1] if i else 0.0)
                      for i, t in enumerate(self.times) if t <= time]
            mean = sum(picked) / len(picked) if picked else None
        if mean is None and any(t <= time for t in self.worst_times):
            return WORST_SCORE
        return mean

    def to_state(self) -> tuple:
        return list(self.times), list(self.sums), self.best, self.ordered, list(self.worst_times)

    @classmethod
    def from_state(cls, state: tuple) -> "_History":
        history = cls()
        times, sums, history.best, history.ordered = state[:4]
        history.times, history.sums = array("d", times), array("d", sums)
        history.worst_times = array("d", state[4] if len(state) > 4 else [])  # snapshots before NaN handling
        return history


class MedianStoppingRule(FIFOScheduler):
    """Stops (or pauses) trials that do worse than the median of the trials that finished.

    At time t (`time_attr`) past `grace_period`, a trial stops when its best score so far is below the
    median, over finished trials, of each one's mean score up to t; the rule waits until
    `min_samples_required` trials have finished. With `hard_stop=False` such a trial is PAUSED instead and
    later resumes in FIFO order, never judged again. `min_time_slice > 0` makes trials yield to waiting ones
    after running that long while too few trials have finished (time-sharing).

    Scores use `metric`/`mode` (or the seed's `reward_attr`, maximised); the default is
    `episode_reward_mean`, maximised. NaN or infinite values count as the worst possible score: a trial
    that reported nothing else by the end of `grace_period` is stopped then, median or not. The positional
    order is the seed's `(time_attr, reward_attr, grace_period, min_samples_required, hard_stop, verbose)`;
    `verbose` (default True, as in 2018) logs each early stop (logger `tunelab.schedulers.median_stopping`,
    INFO) with the trial's best score and the median.
    """

    def __init__(
        self,
        time_attr: str = TIME_TOTAL_S,
        reward_attr: str | None = None,
        grace_period: float = 60.0,
        min_samples_required: int = 3,
        hard_stop: bool = True,
        verbose: bool = True,
        *,
        metric: str | None = None,
        mode: str | None = None,
        min_time_slice: float = 0,
    ):
        owner = "MedianStoppingRule"
        check_key(f"{owner}(time_attr=...)", time_attr)
        check_number(f"{owner}(grace_period=...)", grace_period, minimum=0)
        check_number(f"{owner}(min_time_slice=...)", min_time_slice, minimum=0)
        check_number(f"{owner}(min_samples_required=...)", min_samples_required, minimum=1, integer=True)
        self._objective = Objective(owner, metric, mode, reward_attr)
        self._verbose = bool(verbose)
        self._time_attr = time_attr
        self._grace_period = grace_period
        self._min_samples_required = min_samples_required
        self._min_time_slice = min_time_slice
        self._hard_stop = hard_stop
        self.needs_checkpoints = not hard_stop or min_time_slice > 0
        self._histories: dict[str, _History] = {}
        self._completed: set[str] = set()
        self._stopped: set[str] = set()
        self._last_pause: dict[str, float] = {}
        self._num_stopped = 0

    def on_trial_result(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> str:
        read = self._objective.read(trial, result, self._time_attr)
        if read is None or trial.trial_id in self._stopped:
            return TrialScheduler.CONTINUE  # a soft-stopped trial was resumed: FIFO from now on
        time, score = read
        history = self._histories.setdefault(trial.trial_id, _History())
        history.add(time, score)
        if time <= self._grace_period:
            return TrialScheduler.CONTINUE
        median = self._median_until(time)
        if median is None and history.best != WORST_SCORE:
            return self._maybe_yield(runner, trial, time)
        # only unusable (NaN) scores: below any median (and past the check above, a usable best has a median)
        if history.best == WORST_SCORE or (median is not None and history.best < median):
            self._stopped.add(trial.trial_id)
            self._num_stopped += 1
            if self._verbose:
                sign = self._objective.sign  # scores are negated for mode="min": log the metric's values
                logger.info("MedianStoppingRule: %s trial %s with best %s=%s and median=%s",
                            "stopping" if self._hard_stop else "pausing", trial, self._objective.metric,
                            "unusable (NaN/inf only)" if history.best == WORST_SCORE else sign * history.best,
                            None if median is None else sign * median)
            if self._hard_stop:
                del self._histories[trial.trial_id]  # never completes, never counts: drop it
                return TrialScheduler.STOP
            return TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> None:
        if self._hard_stop and trial.trial_id in self._stopped:
            return
        read = self._objective.read(trial, result, self._time_attr, strict=False)
        history = self._histories.get(trial.trial_id)
        if read is not None:
            history = history or self._histories.setdefault(trial.trial_id, _History())
            history.add(*read)
        if history is not None:
            self._completed.add(trial.trial_id)

    def on_trial_remove(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        """A paused trial that ran and is then removed counts as finished (as in the seed)."""
        if trial.status == Trial.PAUSED and trial.trial_id in self._histories:
            self._completed.add(trial.trial_id)
        else:
            self._forget(trial)

    def on_trial_error(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        self._forget(trial)

    def debug_string(self) -> str:
        return f"Using MedianStoppingRule: num_stopped={self._num_stopped}."

    def save_state(self) -> dict:
        return {
            "histories": {tid: h.to_state() for tid, h in self._histories.items()},
            "completed": sorted(self._completed), "stopped": sorted(self._stopped),
            "last_pause": dict(self._last_pause), "num_stopped": self._num_stopped,
        }

    def restore_state(self, state: dict, trials_by_id: dict[str, "TrialLike"]) -> None:
        self._histories = {tid: _History.from_state(h) for tid, h in state["histories"].items()}
        self._completed, self._stopped = set(state["completed"]), set(state["stopped"])
        self._last_pause, self._num_stopped = dict(state["last_pause"]), state["num_stopped"]

    # -- internals ---------------------------------------------------------------------------------
    def _median_until(self, time: float) -> float | None:
        """Median over finished trials of their mean score up to `time`; None with too few of them."""
        means = [m for m in (self._histories[tid].mean_until(time) for tid in self._completed) if m is not None]
        return statistics.median(means) if len(means) >= self._min_samples_required else None

    def _maybe_yield(self, runner: "SchedulerRunner", trial: "TrialLike", time: float) -> str:
        """While the median is not known yet, time-share: PAUSE after `min_time_slice` if others wait."""
        if not self._min_time_slice or runner is None:
            return TrialScheduler.CONTINUE
        if time - self._last_pause.get(trial.trial_id, 0.0) < self._min_time_slice:
            return TrialScheduler.CONTINUE
        if not any(t.trial_id != trial.trial_id and t.status in (Trial.PENDING, Trial.PAUSED) for t in self._live_trials(runner)):
            return TrialScheduler.CONTINUE
        self._last_pause[trial.trial_id] = time
        return TrialScheduler.PAUSE

    def _forget(self, trial: "TrialLike") -> None:
        if trial.trial_id not in self._completed:
            self._histories.pop(trial.trial_id, None)
        self._last_pause.pop(trial.trial_id, None)
