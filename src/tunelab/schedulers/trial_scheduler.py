"""The scheduler contract: what the controller asks a scheduler, and the three decisions it may give."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.result_keys import EPISODE_REWARD_MEAN

if TYPE_CHECKING:
    from tunelab.schedulers.actions import SchedulerRunner
    from tunelab.trial_view import TrialLike

#: the metric schedulers optimise when given neither `metric=` nor `reward_attr=` (the seed's default)
DEFAULT_METRIC = EPISODE_REWARD_MEAN


class TrialScheduler:
    """Decides, for each result, whether a trial goes on (CONTINUE), frees its resources and may come
    back later from its checkpoint (PAUSE) or ends for good (STOP); and which trial runs next.

    Implementations are pure: no processes, files or clocks. The `runner` passed to each hook (a
    `SchedulerRunner`) offers `get_trials()`, `has_resources(resources)`, `stop_trial(trial)` and
    `trial_executor.pause_trial(trial)`, `unpause_trial(trial)`, `stop_trial(trial)`. Inside an experiment
    it is a `DecisionRecorder`: every such request becomes an action (`tunelab.schedulers.actions`) that
    the controller applies after the hook returns, so a hook never sees its own requests take effect.

    Every trial a hook is handed inside an experiment (the event's `trial`, `runner.get_trials()`, the
    `trials_by_id` of `restore_state`) is a frozen `TrialView` of it at that moment, never the controller's
    `Trial`; `choose_trial_to_run` returns one of them. A scheduler remembers trials by `trial_id`, and
    `actions.latest(runner, trial)` gives a remembered trial's newest view. User code and tests may drive
    a scheduler by hand with `Trial`s instead: hooks accept either (`TrialLike`).
    """

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"

    #: set by schedulers that PAUSE trials and so need trainables that can checkpoint
    needs_checkpoints = False
    #: set by schedulers that must see every trial up front (HyperBand fills its brackets with them);
    #: otherwise the controller takes trials from the searcher just in time
    wants_all_trials = False

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        """Take the experiment-wide metric/mode if the scheduler was built without them.

        Returns False when the scheduler was built with a different metric or mode.
        """
        objective = getattr(self, "_objective", None)
        return True if objective is None else objective.adopt(metric, mode)

    def on_trial_add(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        """A new trial was added (PENDING)."""

    def on_trial_error(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        """The trial failed for good; it will not report again."""

    def on_trial_result(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> str:
        """A RUNNING trial reported `result`; return CONTINUE, PAUSE or STOP."""
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> None:
        """The trial finished normally (done or a stop criterion) with final `result`."""

    def on_trial_remove(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        """A PENDING or PAUSED trial was removed (stopped) without finishing."""

    def choose_trial_to_run(self, runner: "SchedulerRunner") -> "TrialLike | None":
        """Return a PENDING or PAUSED trial whose resources are free, or None. Must be idempotent.

        The default is first-in first-out: the first PENDING trial that fits, else the first PAUSED one.
        """
        from tunelab.trial import Trial

        paused = None
        for trial in self._live_trials(runner):
            if trial.status == Trial.PENDING:
                if runner.has_resources(trial.resources):
                    return trial
            elif paused is None and trial.status == Trial.PAUSED and runner.has_resources(trial.resources):
                paused = trial
        return paused

    def debug_string(self) -> str:
        return ""

    def save_state(self) -> dict:
        """A picklable snapshot of the scheduler's bookkeeping (trials named by `trial_id`), for resume."""
        return {}

    def restore_state(self, state: dict, trials_by_id: dict[str, "TrialLike"]) -> None:
        """Continue from a `save_state()` snapshot; `trials_by_id` maps ids back to the resumed trials."""

    # helpers shared by implementations --------------------------------------------------------------
    @staticmethod
    def _resolve_mode(mode: str | None) -> str | None:
        if mode not in (None, "min", "max"):
            raise TuneError(f"mode must be 'min' or 'max', got {mode!r}")
        return mode

    @staticmethod
    def _live_trials(runner: "SchedulerRunner") -> list["TrialLike"]:
        """The runner's unfinished trials (`live_trials()` where the runner has it, else all trials)."""
        live = getattr(runner, "live_trials", None)  # an optional extra of a runner (the controller's recorder)
        return live() if live is not None else runner.get_trials()


class Objective:
    """The metric a scheduler optimises and its direction, turned into a score where higher is better.

    `metric=`/`mode=` are the modern arguments; the seed's `reward_attr=` names a metric that is always
    maximised. With none of them the seed default `episode_reward_mean` (max) applies until
    `adopt()` (from `tunelab.run(metric=, mode=)`) supplies one.
    """

    def __init__(self, owner: str, metric: str | None = None, mode: str | None = None,
                 reward_attr: str | None = None):
        from tunelab.validation import check_key

        self._owner = owner
        check_key(f"{owner}(metric=...)", metric, allow_none=True)
        check_key(f"{owner}(reward_attr=...)", reward_attr, allow_none=True)
        mode = TrialScheduler._resolve_mode(mode)
        if reward_attr is not None:
            if metric is not None and metric != reward_attr:
                raise TuneError(f"{owner}: got metric={metric!r} and reward_attr={reward_attr!r}; pass only "
                                "metric= (with mode=) or the seed's reward_attr= (always maximised)")
            if mode == "min":
                raise TuneError(f"{owner}: reward_attr={reward_attr!r} is always maximised, got mode='min'; "
                                "use metric= with mode='min' instead")
            metric, mode = reward_attr, "max"
        self._metric, self._mode = metric, mode

    @property
    def metric(self) -> str:
        return self._metric or DEFAULT_METRIC

    @property
    def mode(self) -> str:
        return self._mode or "max"

    @property
    def sign(self) -> float:
        return 1.0 if self.mode == "max" else -1.0

    def adopt(self, metric: str | None, mode: str | None) -> bool:
        """Fill in the experiment-wide metric/mode; False if they contradict the scheduler's own."""
        mode = TrialScheduler._resolve_mode(mode)
        if (metric is not None and self._metric not in (None, metric)) or (
                mode is not None and self._mode not in (None, mode)):
            return False
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    def score(self, result: dict) -> float | None:
        """The result's score (higher is better), or None when the metric is missing.

        NaN and infinities score `WORST_SCORE` (see `tunelab.metrics`); a value that is not a number
        raises `BadMetricError`, which fails that trial only.
        """
        value = result.get(self.metric)
        if value is None:
            return None
        return metrics.score(metrics.require_number(value, self.metric, self._owner), self.mode)

    def read(self, trial: "TrialLike", result: dict, time_attr: str, strict: bool | None = None) -> tuple[float, float] | None:
        """`(time, score)` of a result, or None when either is missing.

        A missing value raises TuneError (listing the keys the trial did report) when `strict`, or by
        default (`strict=None`) only on a trial's first result: a typo should fail fast, while a trainable
        may legitimately report other things in between.
        """
        time, score = result.get(time_attr), self.score(result)
        if time is not None and score is not None:
            number = metrics.require_number(time, time_attr, self._owner)
            if math.isnan(number):  # progress must be ordered: a NaN time would pass every rung at once
                raise metrics.BadMetricError(f"{self._owner}: the reported {time_attr!r} (time_attr) must not be NaN")
            return number, score
        first = not getattr(trial, "last_result", None)
        if strict or (strict is None and first):
            missing = [key for key in (self.metric, time_attr) if result.get(key) is None]
            raise TuneError(
                f"{self._owner} needs {' and '.join(repr(k) for k in missing)} in every result, but trial {trial} "
                f"reported only {sorted(result)}. Report it, or pass the scheduler a metric= / time_attr= "
                "that the trainable reports.")
        return None


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were added; never stops or pauses one early."""

    def debug_string(self) -> str:
        return "Using FIFO scheduling algorithm."
