"""`AsyncHyperBandScheduler` (ASHA): asynchronous successive halving, by stopping or by promotion.

Bracket `s` has rungs at `grace_period * rf^(k+s)` (k = 0, 1, ... while <= max_t). Every trial is put in
one bracket and its score is recorded at each rung it passes.

- `type="stopping"` (the seed's rule): at the highest rung it has passed and not yet recorded, a trial
  STOPs if its score is below the `(1 - 1/rf)` quantile of the scores recorded there.
- `type="promotion"` (the ASHA paper's rule): a trial PAUSEs at each rung; a free worker first promotes
  (resumes) the best paused trial of the highest rung that ranks in the top `1/rf` of that rung, else starts
  a new trial. When nothing is pending or running, the top `ceil(n/rf)` of a rung may be promoted (the
  synchronous rule), and once nothing is promotable the remaining paused trials are stopped, so an
  experiment with a finite number of trials always ends.

Trials reaching `max_t` STOP (unless `stop_last_trials=False`). A NaN or infinite metric value is the
worst possible score (`tunelab.metrics`): such a trial is stopped (or, with promotion, never promoted) at
the first rung where its latest value is unusable, and its -inf entry keeps every cutoff a number.
"""
from __future__ import annotations

import bisect
import builtins
import math
import random
from typing import TYPE_CHECKING

from tunelab.error import TuneError
from tunelab.metrics import WORST_SCORE
from tunelab.result_keys import TRAINING_ITERATION
from tunelab.schedulers.actions import latest
from tunelab.schedulers.trial_scheduler import FIFOScheduler, Objective, TrialScheduler
from tunelab.trial import Trial
from tunelab.validation import check_key, check_number

if TYPE_CHECKING:
    from tunelab.schedulers.actions import SchedulerRunner
    from tunelab.trial_view import TrialLike

_TYPES = ("stopping", "promotion")


def _below(score: float, cutoff: float | None) -> bool:
    """Whether a score at a rung is cut: below the cutoff, or unusable (NaN, inf: `WORST_SCORE`) even as
    the first at its rung, since the worst possible value can never rank in the top `1/rf`."""
    return score == WORST_SCORE or (cutoff is not None and score < cutoff)


class _Rung:
    """The scores recorded at one milestone (by trial and sorted), and the trials whose highest rung this
    is, best first (for promotion)."""

    __slots__ = ("milestone", "recorded", "_values", "at_level")

    def __init__(self, milestone: float):
        self.milestone = milestone
        self.recorded: dict[str, float] = {}
        self._values: list[float] = []
        self.at_level: list[tuple[float, int, str]] = []  # (-score, arrival, trial_id)

    def record(self, trial_id: str, score: float) -> None:
        bisect.insort(self._values, score)
        self.recorded[trial_id] = score

    def cutoff(self, rf: float) -> float | None:
        """The `(1 - 1/rf)` quantile of the recorded scores (linear interpolation, as numpy's percentile)."""
        values = self._values
        if not values:
            return None
        position = (1 - 1 / rf) * (len(values) - 1)
        low = math.floor(position)
        high = min(low + 1, len(values) - 1)
        if values[low] == WORST_SCORE:  # interpolating from -inf is -inf (the formula would give NaN)
            return WORST_SCORE
        return values[low] + (values[high] - values[low]) * (position - low)

    def rank(self, score: float) -> int:
        """How many recorded scores beat `score`."""
        return len(self._values) - bisect.bisect_right(self._values, score)

    def enter(self, trial_id: str) -> None:
        bisect.insort(self.at_level, (-self.recorded[trial_id], len(self.recorded), trial_id))

    def leave(self, trial_id: str) -> None:
        score = self.recorded.get(trial_id)
        if score is None:
            return
        start = bisect.bisect_left(self.at_level, (-score,))
        for i in range(start, len(self.at_level)):
            if self.at_level[i][2] == trial_id:
                del self.at_level[i]
                return
            if self.at_level[i][0] != -score:
                return


class _Bracket:
    """The rungs of one bracket, lowest milestone first."""

    def __init__(self, min_t: float, max_t: float, rf: float, s: int):
        count = int(math.log(max_t / min_t) / math.log(rf) - s + 1 + 1e-9)
        self.rungs = [_Rung(min_t * rf ** (k + s)) for k in range(max(0, count))]

    def debug_str(self, rf: float, sign: float) -> str:
        parts = []
        for rung in reversed(self.rungs):
            cutoff = rung.cutoff(rf)
            parts.append(f"Iter {rung.milestone:.3f}: {None if cutoff is None else sign * cutoff}")
        return "Bracket: " + " | ".join(parts)


class AsyncHyperBandScheduler(FIFOScheduler):
    """Asynchronous HyperBand / successive halving (ASHA), with the seed's (2018) defaults.

    `AsyncHyperBandScheduler` keeps the 2018 defaults and positional order `(time_attr, reward_attr, max_t,
    grace_period, reduction_factor, brackets)`: max_t=100, grace_period=10, reduction_factor=3, brackets=3.
    `ASHAScheduler`, today's name, has today's defaults (grace_period=1, reduction_factor=4, brackets=1).

    Args:
        time_attr: the result key that measures progress (increasing), e.g. `training_iteration`.
        reward_attr: seed name of the metric; always maximised. Prefer `metric=` and `mode=`.
        max_t: the most `time_attr` any trial gets.
        grace_period: the first rung: no trial is stopped or paused before this much `time_attr`. None (the
            default) means 10, or `max_t` when that is smaller (in 2018 such a scheduler had no rungs and
            stopped nothing early either).
        reduction_factor: `rf`: rungs are `rf` times apart and keep the top `1/rf` of the trials.
        brackets: number of brackets (bracket `s` starts at `grace_period * rf^s`); new trials pick one at
            random, weighted by a softmax over the brackets' numbers of rungs.
        metric, mode: the metric to optimise and "min"/"max" (default `episode_reward_mean`, "max").
        stop_last_trials: STOP trials at `max_t` (else they run on until a stop criterion).
        type: "stopping" (the seed's rule) or "promotion" (pause at rungs, resume the best).
        seed: seeds the bracket choice.
    """

    #: the 2018 default of `grace_period` (used when it is None)
    DEFAULT_GRACE_PERIOD: float = 10

    def __init__(
        self,
        time_attr: str = TRAINING_ITERATION,
        reward_attr: str | None = None,
        max_t: float = 100,
        grace_period: float | None = None,
        reduction_factor: float = 3,
        brackets: int = 3,
        *,
        metric: str | None = None,
        mode: str | None = None,
        stop_last_trials: bool = True,
        type: str = "stopping",
        seed: int | None = None,
    ):
        owner = builtins.type(self).__name__
        if type not in _TYPES:
            raise TuneError(f"{owner}: type must be one of {_TYPES}, got {type!r}")
        check_key(f"{owner}(time_attr=...)", time_attr)
        check_number(f"{owner}(max_t=...)", max_t, above=0)
        if grace_period is None:
            grace_period = min(self.DEFAULT_GRACE_PERIOD, max_t)
        check_number(f"{owner}(grace_period=...)", grace_period, above=0)
        if grace_period > max_t:
            raise TuneError(f"{owner}: grace_period={grace_period!r} must not exceed max_t={max_t!r}")
        check_number(f"{owner}(reduction_factor=...)", reduction_factor, above=1)
        check_number(f"{owner}(brackets=...)", brackets, minimum=1, integer=True)
        self._objective = Objective(owner, metric, mode, reward_attr)
        self._time_attr = time_attr
        self._max_t = max_t
        self._rf = reduction_factor
        self._stop_last_trials = stop_last_trials
        self._promotion = type == "promotion"
        self.needs_checkpoints = self._promotion
        self._brackets = [_Bracket(grace_period, max_t, reduction_factor, s) for s in range(brackets)]
        self._index_pause_rungs()
        sizes = [len(b.rungs) for b in self._brackets]
        self._bracket_weights = [math.exp(size - max(sizes)) for size in sizes]
        self._random = random.Random(seed)
        self._trial_info: dict[str, int] = {}  # trial_id -> bracket index
        self._level: dict[str, int] = {}  # trial_id -> index of the highest rung it was recorded at
        self._trials: dict[str, "TrialLike"] = {}  # the unfinished trials, as last seen
        self._num_stopped = 0

    # -- events ------------------------------------------------------------------------------------
    def on_trial_add(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        index = 0
        if len(self._brackets) > 1:
            index = self._random.choices(range(len(self._brackets)), weights=self._bracket_weights)[0]
        self._trial_info[trial.trial_id] = index
        self._trials[trial.trial_id] = trial

    def on_trial_result(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> str:
        read = self._objective.read(trial, result, self._time_attr)
        if read is None:
            return TrialScheduler.CONTINUE
        if trial.trial_id not in self._trial_info:
            self.on_trial_add(runner, trial)
        elif self._promotion:
            self._trials[trial.trial_id] = trial  # remember the newest view
        time, score = read
        if time >= self._max_t and self._stop_last_trials:
            action = TrialScheduler.STOP
        elif self._promotion:
            action = self._on_result_promotion(runner, trial, time, score)
        else:
            action = self._on_result_stopping(trial, time, score)
        if action == TrialScheduler.STOP:
            self._num_stopped += 1
        return action

    def on_trial_complete(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> None:
        read = self._objective.read(trial, result, self._time_attr, strict=False)
        if read is not None and trial.trial_id in self._trial_info:
            if self._promotion:
                self._record_passed(trial, *read)
            else:
                self._on_result_stopping(trial, *read)
        self._forget(trial)

    def on_trial_error(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        self._forget(trial)

    def on_trial_remove(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        self._forget(trial)

    def _forget(self, trial: "TrialLike") -> None:
        level = self._level.get(trial.trial_id, -1)
        if level >= 0:
            self._promotion_rungs(self._trial_info[trial.trial_id])[level].leave(trial.trial_id)
        for table in (self._trial_info, self._level, self._trials):
            table.pop(trial.trial_id, None)

    # -- stopping ----------------------------------------------------------------------------------
    def _on_result_stopping(self, trial: "TrialLike", time: float, score: float) -> str:
        """At the highest passed rung not yet recorded: STOP below the cutoff; record the score."""
        for rung in reversed(self._brackets[self._trial_info[trial.trial_id]].rungs):
            if time < rung.milestone or trial.trial_id in rung.recorded:
                continue
            cutoff = rung.cutoff(self._rf)
            rung.record(trial.trial_id, score)
            return TrialScheduler.STOP if _below(score, cutoff) else TrialScheduler.CONTINUE
        return TrialScheduler.CONTINUE

    # -- promotion ---------------------------------------------------------------------------------
    def _promotion_rungs(self, bracket_index: int) -> list[_Rung]:
        """Rungs a trial pauses at: those below max_t (reaching max_t ends the trial)."""
        return self._pause_rungs[bracket_index]

    def _index_pause_rungs(self) -> None:
        self._pause_rungs = [[r for r in b.rungs if r.milestone < self._max_t] for b in self._brackets]

    def _record_passed(self, trial: "TrialLike", time: float, score: float) -> bool:
        """Record the score at every rung passed for the first time; True if there was one."""
        level = self._level.get(trial.trial_id, -1)
        rungs = self._promotion_rungs(self._trial_info[trial.trial_id])
        reached = level
        while reached + 1 < len(rungs) and time >= rungs[reached + 1].milestone:
            reached += 1
            rungs[reached].record(trial.trial_id, score)
        self._level[trial.trial_id] = reached
        if reached > level:
            if level >= 0:
                rungs[level].leave(trial.trial_id)
            rungs[reached].enter(trial.trial_id)
        return reached > level

    def _on_result_promotion(self, runner: "SchedulerRunner", trial: "TrialLike", time: float, score: float) -> str:
        """Between rungs: CONTINUE. At a new rung: CONTINUE if the trial is what a free worker would run
        next anyway (the best promotable trial), else PAUSE there.

        The synchronous (endgame) rule is never applied here: the controller adds trials just in time, so
        while a result is processed there is often no PENDING trial although the searcher has more. Only
        `choose_trial_to_run`, which the controller calls after adding trials, can tell the end."""
        if not self._record_passed(trial, time, score):
            return TrialScheduler.CONTINUE
        if score == WORST_SCORE:
            return TrialScheduler.STOP  # unusable (NaN): never promotable, so no point pausing it
        pick = self._promotion_pick(runner, current=trial, endgame=False)
        return TrialScheduler.CONTINUE if pick is not None and pick.trial_id == trial.trial_id else TrialScheduler.PAUSE

    def _promotion_pick(self, runner: "SchedulerRunner", current: "TrialLike | None", endgame: bool) -> "TrialLike | None":
        """The best promotable trial at the highest rung over all brackets, or None.

        A trial is promotable at rung k when k is the highest rung it reached, it waits there (PAUSED, or
        is `current`), and it ranks in the top `floor(n_k/rf)` of the rung (`ceil` in the endgame, when
        nothing else can bring new results).
        """
        rounding = math.ceil if endgame else math.floor
        best: "tuple[float, float, TrialLike] | None" = None
        for index in range(len(self._brackets)):
            for rung in reversed(self._promotion_rungs(index)):
                if best is not None and rung.milestone < best[0]:
                    break
                found = self._best_waiting(runner, rung, current, rounding(len(rung.recorded) / self._rf))
                if found is not None:
                    candidate = (rung.milestone, rung.recorded[found.trial_id], found)
                    if best is None or candidate[:2] > best[:2]:
                        best = candidate
                    break
        return None if best is None else best[2]

    def _best_waiting(self, runner: "SchedulerRunner", rung: _Rung, current: "TrialLike | None",
                      quota: int) -> "TrialLike | None":
        """The best trial waiting at `rung` that ranks within `quota` and fits, or None."""
        for negative_score, _, trial_id in rung.at_level:
            if rung.rank(-negative_score) >= quota or -negative_score == WORST_SCORE:
                return None  # the rest rank lower still; an unusable (NaN) score is never promoted
            trial = self._trials.get(trial_id)
            if trial is None:
                continue
            if current is not None and trial_id == current.trial_id:
                return current
            trial = latest(runner, trial)
            if trial.status == Trial.PAUSED and (runner is None or runner.has_resources(trial.resources)):
                return trial
        return None

    def choose_trial_to_run(self, runner: "SchedulerRunner") -> "TrialLike | None":
        """Stopping: FIFO. Promotion: promote, else start a PENDING trial, else (nothing pending or running)
        promote by the synchronous rule, else stop the paused trials: none of them can ever be promoted."""
        if not self._promotion:
            return super().choose_trial_to_run(runner)
        pick = self._promotion_pick(runner, current=None, endgame=False)
        if pick is not None:
            return pick
        live = self._live_trials(runner)
        for trial in live:
            if trial.status == Trial.PENDING and runner.has_resources(trial.resources):
                return trial
        if any(t.status in (Trial.PENDING, Trial.RUNNING) for t in live):
            return None
        pick = self._promotion_pick(runner, current=None, endgame=True)
        if pick is not None:
            return pick
        paused = [t for t in live if t.status == Trial.PAUSED]
        for trial in paused:
            if self._level.get(trial.trial_id, -1) < 0 and runner.has_resources(trial.resources):
                return trial  # paused before its first rung, not by us: let it go on
        for trial in paused:
            self._num_stopped += 1
            runner.stop_trial(trial)
        return None

    # -- reporting and resume ----------------------------------------------------------------------
    def debug_string(self) -> str:
        out = f"Using AsyncHyperBand: num_stopped={self._num_stopped}"
        return out + "\n" + "\n".join(b.debug_str(self._rf, self._objective.sign) for b in self._brackets)

    def save_state(self) -> dict:
        return {
            "rungs": [[(rung.milestone, dict(rung.recorded)) for rung in b.rungs] for b in self._brackets],
            "trial_info": dict(self._trial_info), "level": dict(self._level),
            "num_stopped": self._num_stopped, "random": self._random.getstate(),
        }

    def restore_state(self, state: dict, trials_by_id: dict[str, "TrialLike"]) -> None:
        for bracket, rungs in zip(self._brackets, state["rungs"]):
            bracket.rungs = []
            for milestone, recorded in rungs:
                rung = _Rung(milestone)
                for trial_id, score in recorded.items():
                    rung.record(trial_id, score)
                bracket.rungs.append(rung)
        self._index_pause_rungs()
        self._trial_info = dict(state["trial_info"])
        self._level = dict(state["level"])
        for trial_id, level in self._level.items():
            if level >= 0:
                self._promotion_rungs(self._trial_info[trial_id])[level].enter(trial_id)
        self._trials = {tid: trials_by_id[tid] for tid in self._trial_info if tid in trials_by_id}
        self._num_stopped = state["num_stopped"]
        self._random.setstate(state["random"])


class ASHAScheduler(AsyncHyperBandScheduler):
    """`AsyncHyperBandScheduler` under today's name, with today's defaults and positional order:
    `(time_attr, metric, mode, max_t=100, grace_period=1, reduction_factor=4, brackets=1, stop_last_trials)`.
    """

    DEFAULT_GRACE_PERIOD = 1

    def __init__(
        self,
        time_attr: str = TRAINING_ITERATION,
        metric: str | None = None,
        mode: str | None = None,
        max_t: float = 100,
        grace_period: float | None = None,
        reduction_factor: float = 4,
        brackets: int = 1,
        stop_last_trials: bool = True,
        *,
        reward_attr: str | None = None,
        type: str = "stopping",
        seed: int | None = None,
    ):
        super().__init__(time_attr, reward_attr, max_t, grace_period, reduction_factor, brackets, metric=metric,
                         mode=mode, stop_last_trials=stop_last_trials, type=type, seed=seed)
