"""`HyperBandScheduler`: synchronous successive halving in brackets of different aggressiveness.

Three levels, as in the seed: a *band* holds up to `s_max + 1` brackets; bracket `s` takes
`n0 = ceil((s_max+1) / (s+1) * eta^s)` trials and first runs them to `r0 = max_t / eta^s`. New trials fill
the current bracket, then open the next bracket, then a new band. In a bracket, a trial that reaches the
milestone is PAUSED until every live trial of the bracket has reached it; then the best `ceil(n/eta)` go on
to a milestone `eta` times further (the last one is `max_t`) and the rest are stopped.

Which trial runs next is the only thing `bracket_order` changes. "aggressive_first" (the default) picks from
the most aggressive bracket that has a trial to run (largest `s` first, as the Hyperband paper's inner loop),
so the first fully trained good configuration comes after one bracket's budget rather than a whole band's.
"seed" picks from the least-complete bracket, as Ray Tune does, so all brackets of a band advance together.
Milestones, halving and which trials pause or stop are the same under both.
"""
from __future__ import annotations

import collections
import math
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.result_keys import TRAINING_ITERATION
from tunelab.schedulers.actions import as_scheduler_runner, latest
from tunelab.schedulers.by_trial import ByTrialId
from tunelab.schedulers.trial_scheduler import FIFOScheduler, Objective, TrialScheduler
from tunelab.trial import Trial
from tunelab.validation import check_key, check_number

if TYPE_CHECKING:
    from tunelab.schedulers.actions import SchedulerRunner
    from tunelab.trial_view import TrialLike

#: the seed's band spans budgets from max_t/81 to max_t: five brackets for eta=3
_BUDGET_RATIO = 81

#: the values of `HyperBandScheduler(bracket_order=...)`
BRACKET_ORDERS = ("seed", "aggressive_first")


class _Bracket:
    """One bracket: its live trials with their latest `(time, score)`, the milestone they run to, and the
    number of halvings left. Trials are remembered by id, each as the scheduler last saw it (a view, or a
    hand-driven `Trial`); `_ended` is the final status of those that left the bracket, for `repr`."""

    def __init__(self, max_trials: int, init_t: float, max_t: float, eta: float, s: int, stop_last_trials: bool):
        self._live_trials: ByTrialId[tuple[float, float] | None] = ByTrialId()
        self._trials: ByTrialId[None] = ByTrialId()  # every trial ever added, in order
        self._ended: dict[str, str] = {}
        self._n = self._n0 = max_trials
        self._r = self._r0 = init_t  # the milestone: total time each live trial runs to in this round
        self._max_t = max_t
        self._eta = eta
        self._halves = s
        self._added = 0  # trials taken in this round, finished ones included
        self._stop_last_trials = stop_last_trials
        self._completed_progress = 0.0
        self._total_work = self._calculate_total_work()

    @property
    def _cumul_r(self) -> float:
        """Seed name of the milestone."""
        return self._r

    def add_trial(self, trial: TrialLike) -> None:
        if self.filled():
            raise TuneError(f"cannot add {trial} to a filled HyperBand bracket")
        self._live_trials[trial] = None
        self._trials[trial] = None
        self._added += 1

    def see(self, trial: TrialLike) -> TrialLike:
        """Remember `trial` (a newer view of one of the bracket's trials) and return it."""
        self._live_trials.see(trial)
        return self._trials.see(trial)

    def filled(self) -> bool:
        """The bracket took its `n` trials for this round (a finished one still counts)."""
        return self._added >= self._n

    def current_trials(self) -> list[TrialLike]:
        """The live trials, as last seen."""
        return list(self._live_trials)

    def time_of(self, trial: TrialLike) -> float:
        stats = self._live_trials[trial]
        return 0.0 if stats is None else stats[0]

    def _score_of(self, trial: TrialLike) -> float:
        stats = self._live_trials[trial]
        assert stats is not None  # ranked only once every live trial reached the milestone, so has reported
        return stats[1]

    def cur_iter_done(self) -> bool:
        """Every live trial has reached the milestone."""
        return all((0.0 if stats is None else stats[0]) >= self._r for stats in self._live_trials.values())

    def finished(self) -> bool:
        return self._stop_last_trials and self._halves == 0 and self.cur_iter_done()

    def continue_trial(self, trial: TrialLike) -> bool:
        if not self._stop_last_trials and self._halves == 0:
            return True
        return self.time_of(trial) < self._r

    def update_trial_stats(self, trial: TrialLike, time: float, score: float) -> None:
        self._completed_progress += max(0.0, time - self.time_of(trial))
        self._live_trials[trial] = (time, score)
        self._trials.see(trial)

    def cleanup_trial(self, trial: TrialLike, ended: str | None = None) -> None:
        """The trial leaves the bracket; `ended` is its final status when the scheduler knows it."""
        self._live_trials.pop(trial, None)
        if ended is not None and trial in self._trials:
            self._ended[trial.trial_id] = ended

    def successive_halving(self) -> tuple[list[TrialLike], list[TrialLike]]:
        """Next round: keep the best `ceil(n/eta)` live trials (good) and drop the rest (bad)."""
        self._halves -= 1
        self._n = math.ceil(self._n / self._eta)
        self._r = self._max_t if self._halves == 0 else min(self._r * self._eta, self._max_t)
        ranked = sorted(self._live_trials, key=self._score_of)
        good, bad = ranked[-self._n:], ranked[:-self._n]
        self._added = len(good)
        return good, bad

    def completion_percentage(self) -> float:
        if self.finished():
            return 1.0
        return min(self._completed_progress / self._total_work, 1.0) if self._total_work else 0.0

    def _calculate_total_work(self) -> float:
        work, n, r, previous = 0.0, self._n0, self._r0, 0.0
        for halves_left in range(self._halves, -1, -1):
            work += n * (r - previous)
            previous, n = r, math.ceil(n / self._eta)
            r = self._max_t if halves_left == 1 else min(r * self._eta, self._max_t)
        return work

    def __repr__(self) -> str:
        status = f"Max Size (n)={self._n}, Milestone (r)={self._r:g}, completed={self.completion_percentage():.1%}"
        counts = collections.Counter(self._ended.get(t.trial_id, t.status) for t in self._trials)
        statuses = ", ".join(sorted(f"{k}: {v}" for k, v in counts.items()))
        return f"Bracket({status}): {{{statuses}}}"

    # -- resume ------------------------------------------------------------------------------------
    _SAVED = ("_n", "_n0", "_r", "_r0", "_halves", "_added", "_completed_progress", "_total_work")

    def to_state(self) -> dict:
        state = {name: getattr(self, name) for name in self._SAVED}
        state["live"] = [(t.trial_id, stats) for t, stats in self._live_trials.items()]
        state["all"] = [t.trial_id for t in self._trials]
        return state

    def load_state(self, state: dict, trials_by_id: dict[str, TrialLike]) -> None:
        for name in self._SAVED:
            setattr(self, name, state[name])
        self._live_trials, self._trials, self._ended = ByTrialId(), ByTrialId(), {}
        for tid, stats in state["live"]:
            if tid in trials_by_id:
                self._live_trials[trials_by_id[tid]] = stats
        for tid in state["all"]:
            if tid in trials_by_id:
                self._trials[trials_by_id[tid]] = None


class HyperBandScheduler(FIFOScheduler):
    """HyperBand over brackets of successive halving (the seed's synchronous version).

    The positional order is the seed's `(time_attr, reward_attr, max_t)`; the other options are keywords.

    Args:
        time_attr: the result key that measures progress (increasing), e.g. `training_iteration`.
        reward_attr: seed name of the metric; always maximised. Prefer `metric=` and `mode=`.
        max_t: the most `time_attr` any trial gets; the last milestone of every bracket.
        metric, mode: the metric to optimise and "min"/"max" (default `episode_reward_mean`, "max").
        reduction_factor: `eta`, how much each halving shrinks a bracket (and stretches the milestone).
        stop_last_trials: stop the survivors at `max_t` (else they run on until a stop criterion).
        bracket_order: which bracket the next trial to run comes from, band by band. "aggressive_first"
            (default): the most aggressive bracket (largest n, smallest first budget) that has a trial to run,
            so brackets finish one after the other from s = s_max down to 0, as in Li et al.'s Hyperband.
            "seed": the least-complete bracket, so a band's brackets advance together (the order of Ray Tune,
            0.5 to 2.x); it reaches a first good, fully trained configuration about 4x later.
    """

    #: brackets are filled with trials in order: the controller adds every available trial up front
    wants_all_trials = True

    needs_checkpoints = True

    def __init__(
        self,
        time_attr: str = TRAINING_ITERATION,
        reward_attr: str | None = None,
        max_t: float = 81,
        *,
        metric: str | None = None,
        mode: str | None = None,
        reduction_factor: float = 3,
        stop_last_trials: bool = True,
        bracket_order: str = "aggressive_first",
    ):
        check_key("HyperBandScheduler(time_attr=...)", time_attr)
        check_number("HyperBandScheduler(max_t=...)", max_t, above=0)
        check_number("HyperBandScheduler(reduction_factor=...)", reduction_factor, above=1)
        if bracket_order not in BRACKET_ORDERS:
            raise TuneError(f"HyperBandScheduler: bracket_order must be one of "
                            f"{', '.join(map(repr, BRACKET_ORDERS))}, got {bracket_order!r}")
        self._objective = Objective("HyperBandScheduler", metric, mode, reward_attr)
        self._time_attr = time_attr
        self._eta = reduction_factor
        self._max_t_attr = max_t
        self._stop_last_trials = stop_last_trials
        self._bracket_order = bracket_order
        self._s_max_1 = round(math.log(_BUDGET_RATIO) / math.log(reduction_factor)) + 1
        self._hyperbands: list[list[_Bracket | None]] = [[]]
        self._trial_info: ByTrialId[tuple[_Bracket, int]] = ByTrialId()  # each trial's bracket and band
        self._state: dict[str, Any] = {"bracket": None, "band_idx": 0}
        self._num_stopped = 0

    def _get_n0(self, s: int) -> int:
        """Trials in bracket `s`."""
        return math.ceil(self._s_max_1 / (s + 1) * self._eta ** s)

    def _get_r0(self, s: int) -> float:
        """First milestone of bracket `s` (0: the bracket is skipped)."""
        r0 = self._max_t_attr / self._eta ** s
        return int(r0 + 1e-9) if float(self._max_t_attr).is_integer() else r0

    def _cur_band_filled(self) -> bool:
        return len(self._hyperbands[self._state["band_idx"]]) == self._s_max_1

    def on_trial_add(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        """Put the trial in the current bracket; open the next bracket (or band) when it is filled."""
        bracket = self._state["bracket"]
        if bracket is None or bracket.filled():
            bracket = None
            while bracket is None:
                if self._cur_band_filled():
                    self._hyperbands.append([])
                    self._state["band_idx"] += 1
                band = self._hyperbands[self._state["band_idx"]]
                s = len(band)
                r0 = self._get_r0(s)
                bracket = _Bracket(self._get_n0(s), r0, self._max_t_attr, self._eta, s,
                                   self._stop_last_trials) if r0 > 0 else None
                band.append(bracket)
            self._state["bracket"] = bracket
        bracket.add_trial(trial)
        self._trial_info[trial] = (bracket, self._state["band_idx"])

    def on_trial_result(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> str:
        read = self._objective.read(trial, result, self._time_attr)
        if read is None:
            return TrialScheduler.CONTINUE
        if trial not in self._trial_info:
            self.on_trial_add(runner, trial)
        bracket, _ = self._trial_info[trial]
        if trial not in bracket._live_trials:  # dropped from its bracket already: let it be
            return TrialScheduler.CONTINUE
        bracket.update_trial_stats(trial, *read)
        if bracket.continue_trial(trial):
            return TrialScheduler.CONTINUE
        return self._process_bracket(runner, bracket, trial)

    def _process_bracket(self, runner: "SchedulerRunner", bracket: _Bracket,
                         current: "TrialLike | None" = None) -> str:
        """Halve the bracket while all its live trials reached the milestone; stop the bad trials, resume
        the good ones, and return the decision for `current` (the trial whose result is processed)."""
        runner = as_scheduler_runner(runner)
        current_id = None if current is None else current.trial_id
        action = TrialScheduler.PAUSE
        while bracket._live_trials and bracket.cur_iter_done():
            if bracket.finished():
                for trial in bracket.current_trials():
                    trial = bracket.see(latest(runner, trial))
                    if trial.trial_id == current_id or not trial.is_finished():
                        bracket.cleanup_trial(trial, ended=Trial.TERMINATED)
                        if trial.trial_id != current_id:
                            runner.stop_trial(trial)
                    else:
                        bracket.cleanup_trial(trial)
                return TrialScheduler.STOP
            if bracket._halves == 0:
                break
            _, bad = bracket.successive_halving()
            self._num_stopped += len(bad)
            for trial in bad:
                trial = bracket.see(latest(runner, trial))
                finished = trial.trial_id != current_id and trial.is_finished()
                # before stop_trial: on_trial_remove must find nothing to do
                bracket.cleanup_trial(trial, ended=None if finished else Trial.TERMINATED)
                if trial.trial_id == current_id:
                    action = TrialScheduler.STOP
                elif not finished:
                    runner.stop_trial(trial)
        for trial in bracket.current_trials():
            if bracket.continue_trial(trial):
                if trial.trial_id == current_id:
                    action = TrialScheduler.CONTINUE
                elif bracket.see(latest(runner, trial)).status == Trial.PAUSED:
                    runner.trial_executor.unpause_trial(trial)
        return action

    def on_trial_remove(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        """Drop the trial from its bracket; the others may now be ready to halve."""
        self._leave(runner, trial, Trial.TERMINATED)

    def on_trial_complete(self, runner: "SchedulerRunner", trial: "TrialLike", result: dict) -> None:
        self._leave(runner, trial, Trial.TERMINATED)

    def on_trial_error(self, runner: "SchedulerRunner", trial: "TrialLike") -> None:
        self._leave(runner, trial, Trial.ERROR)

    def _leave(self, runner: "SchedulerRunner", trial: "TrialLike", ended: str) -> None:
        info = self._trial_info.get(trial)
        if info is None or trial not in info[0]._live_trials:
            return
        bracket = info[0]
        bracket.cleanup_trial(bracket.see(trial), ended=ended)
        self._process_bracket(runner, bracket)

    def _brackets_in_order(self, band: list[_Bracket | None]) -> list[_Bracket]:
        """The band's brackets in the order `choose_trial_to_run` tries them."""
        brackets = [b for b in band if b is not None]
        if self._bracket_order == "aggressive_first":
            return brackets[::-1]  # a band's list is indexed by s: the most aggressive bracket is last
        return sorted(brackets, key=_Bracket.completion_percentage)

    def choose_trial_to_run(self, runner: "SchedulerRunner") -> "TrialLike | None":
        """A PENDING trial of the most aggressive bracket that has one (band by band), or with
        `bracket_order="seed"` of the least-complete bracket; failing that, a PAUSED trial that its bracket
        lets continue (only after a resume restored it paused)."""
        for wanted in (Trial.PENDING, Trial.PAUSED):
            for band in self._hyperbands:
                for bracket in self._brackets_in_order(band):
                    for trial in bracket.current_trials():
                        trial = bracket.see(latest(runner, trial))
                        if (trial.status == wanted and bracket.continue_trial(trial)
                                and runner.has_resources(trial.resources)):
                            return trial
        return None

    def debug_string(self) -> str:
        out = (f"Using HyperBand: num_stopped={self._num_stopped} "
               f"total_brackets={sum(len(band) for band in self._hyperbands)}")
        for i, band in enumerate(self._hyperbands):
            out += f"\nRound #{i}:"
            for bracket in band:
                if bracket is not None:
                    out += f"\n  {bracket}"
        return out

    def save_state(self) -> dict:
        current = self._state["bracket"]
        position = None
        for b, band in enumerate(self._hyperbands):
            for i, bracket in enumerate(band):
                if bracket is not None and bracket is current:
                    position = (b, i)
        return {
            "bands": [[None if br is None else br.to_state() for br in band] for band in self._hyperbands],
            "current": position, "band_idx": self._state["band_idx"], "num_stopped": self._num_stopped,
        }

    def restore_state(self, state: dict, trials_by_id: dict[str, "TrialLike"]) -> None:
        self._hyperbands, self._trial_info = [], ByTrialId()
        for b, band_state in enumerate(state["bands"]):
            band: list[_Bracket | None] = []
            for s, bracket_state in enumerate(band_state):
                bracket = None
                if bracket_state is not None:
                    bracket = _Bracket(1, 1, self._max_t_attr, self._eta, s, self._stop_last_trials)
                    bracket.load_state(bracket_state, trials_by_id)
                    for trial in bracket._trials:
                        self._trial_info[trial] = (bracket, b)
                band.append(bracket)
            self._hyperbands.append(band)
        position = state["current"]
        self._state = {"bracket": None if position is None else self._hyperbands[position[0]][position[1]],
                       "band_idx": state["band_idx"]}
        self._num_stopped = state["num_stopped"]
