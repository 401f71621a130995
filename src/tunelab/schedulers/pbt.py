"""`PopulationBasedTraining`: the bottom of the population copies the top (exploit) and perturbs it
(explore), so hyperparameters can change during training.

Every `perturbation_interval` of `time_attr` a trial's score is recorded. A trial in the top
`quantile_fraction` is checkpointed; one in the bottom clones the checkpoint and config of a random top
trial that has a checkpoint, then `explore()` perturbs that config. Every exploit is appended, as plain
data, to `exploit_log`, which is enough to replay the schedule of configs of every trial.
"""
from __future__ import annotations

import copy
import inspect
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.metrics import WORST_SCORE
from tunelab.result_keys import TIME_TOTAL_S
from tunelab.schedulers.actions import DecisionRecorder, as_scheduler_runner, latest
from tunelab.schedulers.by_trial import ByTrialId
from tunelab.schedulers.trial_scheduler import FIFOScheduler, Objective, TrialScheduler
from tunelab.suggest.domains import Categorical, Domain
from tunelab.suggest.variant_generator import format_vars
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trial import Trial
from tunelab.validation import check_key, check_number, check_numbers

if TYPE_CHECKING:
    from tunelab.schedulers.actions import SaveCheckpoint, SchedulerRunner
    from tunelab.trial_view import TrialLike

Mutations = Mapping[str, Any]


# -- explore -------------------------------------------------------------------------------------------
def explore(
    config: dict,
    mutations: Mutations,
    resample_probability: float,
    custom_explore_fn: Callable[[dict], dict | None] | None = None,
    perturbation_factors: Sequence[float] = (1.2, 0.8),
    random_state: random.Random | None = None,
) -> dict:
    """Return a perturbed copy of `config`.

    For each key of `mutations`: a list (or `choice` domain) value is resampled with probability
    `resample_probability` (or when the current value is not in the list), else moved to an adjacent list
    value; any other value (a domain such as `uniform`, or a callable) is resampled with that probability,
    else multiplied by one of `perturbation_factors` (ints stay ints). Nested dicts mutate nested keys.
    `custom_explore_fn(config)` runs last and may return a new config.
    """
    rng: Any = random_state if random_state is not None else random
    new_config = _copy_config(config)
    _explore_into(new_config, mutations, resample_probability, perturbation_factors, rng)
    if custom_explore_fn is not None:
        returned = custom_explore_fn(new_config)
        new_config = new_config if returned is None else returned
    return new_config


def _copy_config(config: dict) -> dict:
    """A deep copy of a config, or a shallow one when it holds objects that cannot be copied."""
    try:
        return copy.deepcopy(config)
    except Exception:
        return dict(config)


def _explore_into(config: dict, mutations: Mutations, p: float, factors: Sequence[float], rng: Any) -> None:
    for key, spec in mutations.items():
        value = config.get(key)
        if isinstance(spec, Mapping):
            if not isinstance(value, dict):
                value = config[key] = {}
            _explore_into(value, spec, p, factors, rng)
        else:
            config[key] = _mutate(value, spec, p, factors, rng)


def _mutate(value: Any, spec: Any, p: float, factors: Sequence[float], rng: Any) -> Any:
    if isinstance(spec, Categorical):
        spec = spec.categories
    if isinstance(spec, (list, tuple)):
        if rng.random() < p or value not in spec:
            return rng.choice(spec)
        index = list(spec).index(value)
        return spec[max(0, index - 1)] if rng.random() > 0.5 else spec[min(len(spec) - 1, index + 1)]
    if value is None or rng.random() < p:
        new = sample_mutation(spec, rng)
    else:
        new = value * rng.choice(list(factors))
    if isinstance(value, int) and not isinstance(value, bool):
        new = int(new)
    return new


def sample_mutation(spec: Any, rng: Any = None) -> Any:
    """A fresh value from a mutation spec: a list, a tunelab domain or a callable (called with no argument,
    or with `None` when it takes one: `sample_from`-style)."""
    rng = rng if rng is not None else random
    if isinstance(spec, (list, tuple)):
        return rng.choice(spec)
    if isinstance(spec, Domain):
        return spec.sample(None, rng if isinstance(rng, random.Random) else None)
    if callable(spec):
        try:
            takes_argument = bool(inspect.signature(spec).parameters)
        except (TypeError, ValueError):
            takes_argument = False
        return spec(None) if takes_argument else spec()
    raise TuneError(f"hyperparam_mutations values must be lists, tunelab domains, callables or dicts of them; "
                    f"got {spec!r}")


def make_experiment_tag(orig_tag: str, config: dict, mutations: Mutations) -> str:
    """`"{orig_tag}@perturbed[k=v,...]"` over the mutated keys (the seed's tag)."""
    resolved: dict[tuple, Any] = {}

    def collect(cfg: Any, muts: Mutations, path: tuple) -> None:
        for key, spec in muts.items():
            value = cfg.get(key) if isinstance(cfg, dict) else None
            if isinstance(spec, Mapping):
                collect(value, spec, path + (key,))
            else:
                resolved[path + (key,)] = value

    collect(config, mutations, ("config",))
    return f"{orig_tag}@perturbed[{format_vars(resolved)}]"


def _check_mutations(mutations: Mutations, path: str = "") -> None:
    for key, spec in mutations.items():
        if isinstance(spec, Mapping):
            _check_mutations(spec, f"{path}{key}/")
        elif isinstance(spec, (list, tuple)) and not spec:
            raise TuneError(f"PopulationBasedTraining: hyperparam_mutations[{path}{key}] is an empty list")
        elif not isinstance(spec, (list, tuple, Domain)) and not callable(spec):
            raise TuneError(f"PopulationBasedTraining: hyperparam_mutations[{path}{key}] must be a list, a tunelab "
                            f"domain, a callable or a dict of them; got {spec!r}")


def _fill_missing(config: dict, mutations: Mutations, rng: random.Random) -> None:
    """Sample the mutated keys a trial's config lacks, so every trial starts with a value to perturb."""
    for key, spec in mutations.items():
        if isinstance(spec, Mapping):
            nested = config.setdefault(key, {})
            if isinstance(nested, dict):
                _fill_missing(nested, spec, rng)
        elif key not in config:
            config[key] = sample_mutation(spec, rng)


def _lacks(config: Mapping, mutations: Mutations) -> bool:
    """Whether `_fill_missing` would add anything to `config`."""
    for key, spec in mutations.items():
        if key not in config:
            return True
        if isinstance(spec, Mapping) and isinstance(config[key], dict) and _lacks(config[key], spec):
            return True
    return False


# -- the scheduler -------------------------------------------------------------------------------------
class _PBTTrialState:
    """What PBT remembers per trial."""

    __slots__ = ("orig_tag", "last_score", "last_checkpoint", "checkpoint_config", "last_perturbation_time",
                 "last_train_time")

    def __init__(self, trial: TrialLike):
        self.orig_tag = trial.experiment_tag
        self.last_score: float | None = None
        self.last_checkpoint: Checkpoint | SaveCheckpoint | None = None  # or the request that saves it
        self.checkpoint_config: dict | None = None  # the config the checkpoint was trained with
        self.last_perturbation_time = 0.0
        self.last_train_time = 0.0


class PopulationBasedTraining(FIFOScheduler):
    """Population Based Training (Jaderberg et al. 2017), with the seed's decision rules.

    The positional order is the seed's `(time_attr, reward_attr, perturbation_interval, hyperparam_mutations,
    resample_probability, custom_explore_fn)`; the options added since are keywords.

    Args:
        time_attr: the result key that measures progress (increasing).
        reward_attr: seed name of the metric; always maximised. Prefer `metric=` and `mode=`.
        metric, mode: the metric to optimise and "min"/"max" (default `episode_reward_mean`, "max").
        perturbation_interval: a trial is judged every this much `time_attr`.
        burn_in_period: no trial is judged before this much `time_attr`.
        hyperparam_mutations: `{key: list | domain | callable | dict}`, how each key is perturbed.
        quantile_fraction: the top and bottom fraction of the population (at most 0.5).
        resample_probability: chance to resample a value instead of perturbing it.
        perturbation_factors: the factors a continuous value is multiplied by.
        custom_explore_fn: `fn(config) -> config`, run after the mutations.
        log_config: append every exploit to `exploit_log`.
        require_attrs: raise TuneError when a result lacks `time_attr` or the metric (else ignore it).
        synch: judge the whole population at once, when every trial has reached the next interval.
        seed: seeds all of PBT's random choices.
    """

    needs_checkpoints = True

    def __init__(
        self,
        time_attr: str = TIME_TOTAL_S,
        reward_attr: str | None = None,
        perturbation_interval: float = 60.0,
        hyperparam_mutations: Mutations | None = None,
        resample_probability: float = 0.25,
        custom_explore_fn: Callable[[dict], dict | None] | None = None,
        *,
        metric: str | None = None,
        mode: str | None = None,
        burn_in_period: float = 0,
        quantile_fraction: float = 0.25,
        perturbation_factors: Sequence[float] = (1.2, 0.8),
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        seed: int | None = None,
    ):
        owner = "PopulationBasedTraining"
        hyperparam_mutations = hyperparam_mutations or {}
        if not hyperparam_mutations and custom_explore_fn is None:
            raise TuneError("PopulationBasedTraining needs hyperparam_mutations or custom_explore_fn (got neither): "
                            "without them there is nothing to explore")
        if not isinstance(hyperparam_mutations, Mapping):
            raise TuneError(f"PopulationBasedTraining: hyperparam_mutations must be a dict, got {hyperparam_mutations!r}")
        _check_mutations(hyperparam_mutations)
        if custom_explore_fn is not None and not callable(custom_explore_fn):
            raise TuneError(f"PopulationBasedTraining(custom_explore_fn=...) must be a function config -> config, "
                            f"got {custom_explore_fn!r}")
        check_key(f"{owner}(time_attr=...)", time_attr)
        check_number(f"{owner}(perturbation_interval=...)", perturbation_interval, above=0)
        check_number(f"{owner}(burn_in_period=...)", burn_in_period, minimum=0)
        check_number(f"{owner}(quantile_fraction=...)", quantile_fraction, above=0, maximum=0.5)
        check_number(f"{owner}(resample_probability=...)", resample_probability, minimum=0, maximum=1)
        check_numbers(f"{owner}(perturbation_factors=...)", perturbation_factors, minimum=0)
        self._objective = Objective("PopulationBasedTraining", metric, mode, reward_attr)
        self._time_attr = time_attr
        self._perturbation_interval = perturbation_interval
        self._burn_in_period = burn_in_period
        self._hyperparam_mutations = hyperparam_mutations
        self._quantile_fraction = quantile_fraction
        self._resample_probability = resample_probability
        self._perturbation_factors = tuple(perturbation_factors)
        self._custom_explore_fn = custom_explore_fn
        self._log_config = log_config
        self._require_attrs = require_attrs
        self._synch = synch
        self._next_perturbation_sync = perturbation_interval
        self._random = random.Random(seed)
        self._trial_state: ByTrialId[_PBTTrialState] = ByTrialId()  # each trial as last seen
        self._num_checkpoints = 0
        self._num_perturbations = 0
        #: one dict per exploit: time, trial_id, donor_id, old_config, new_config, old_tag, new_tag
        self.exploit_log: list[dict] = []

    # -- events ------------------------------------------------------------------------------------
    def on_trial_add(self, runner: "SchedulerRunner", trial: TrialLike) -> None:
        if isinstance(runner, DecisionRecorder):  # a frozen view: the controller gives it the filled config
            if _lacks(trial.config, self._hyperparam_mutations):
                config = _copy_config(dict(trial.config))
                _fill_missing(config, self._hyperparam_mutations, self._random)
                runner.set_config(trial, config)
        else:  # a hand-driven Trial: filled in place
            assert isinstance(trial.config, dict)
            _fill_missing(trial.config, self._hyperparam_mutations, self._random)
        self._trial_state[trial] = _PBTTrialState(trial)

    def on_trial_result(self, runner: "SchedulerRunner", trial: TrialLike, result: dict) -> str:
        read = self._objective.read(trial, result, self._time_attr, strict=self._require_attrs)
        if read is None:
            return TrialScheduler.CONTINUE
        if trial not in self._trial_state:
            self.on_trial_add(runner, trial)
        time, score = read
        state = self._trial_state[trial]
        self._trial_state.see(trial)
        state.last_train_time = time
        if time < self._burn_in_period or time - state.last_perturbation_time < self._perturbation_interval:
            return TrialScheduler.CONTINUE  # not judged yet: no checkpoint overhead
        state.last_score = score
        self._set_perturbation_time(trial, time)
        runner = as_scheduler_runner(runner)  # a hand-made 2018 runner gets checkpoint/exploit done on the trials
        if self._synch:
            return self._synch_round(runner, trial, time)
        lower, upper = self._quantiles(runner)
        self._checkpoint_or_exploit(runner, trial, time, lower, upper, current=trial)
        for other in self._live_trials(runner):
            if other.trial_id != trial.trial_id and other.status in (Trial.PENDING, Trial.PAUSED):
                return TrialScheduler.PAUSE  # yield time to the rest of the population
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, runner: "SchedulerRunner", trial: TrialLike, result: dict) -> None:
        self._trial_state.pop(trial, None)

    def on_trial_error(self, runner: "SchedulerRunner", trial: TrialLike) -> None:
        self._trial_state.pop(trial, None)

    def on_trial_remove(self, runner: "SchedulerRunner", trial: TrialLike) -> None:
        self._trial_state.pop(trial, None)

    def choose_trial_to_run(self, runner: "SchedulerRunner") -> TrialLike | None:
        """The PENDING or PAUSED trial furthest behind (lowest last perturbation time) that fits. In synch
        mode a trial waiting at the barrier is not a candidate until the whole population got there (as in
        Ray): restarted early, it would run on while the round exploits it, and the exploit would be lost."""
        candidates = [t for t in self._live_trials(runner)
                      if t.status in (Trial.PENDING, Trial.PAUSED) and runner.has_resources(t.resources)
                      and (not self._synch or self._state_of(t).last_train_time < self._next_perturbation_sync)]
        if not candidates:
            return None
        return min(candidates, key=lambda t: self._state_of(t).last_perturbation_time)

    # -- decisions ---------------------------------------------------------------------------------
    def _latest(self, runner: "SchedulerRunner | None", trial: TrialLike) -> TrialLike:
        """A remembered trial as it is now (remembered so from here on)."""
        return self._trial_state.see(latest(runner, trial))

    def _quantiles(self, runner: "SchedulerRunner | None" = None) -> tuple[list[TrialLike], list[TrialLike]]:
        """(bottom, top) trials by last score, each `quantile_fraction` of the scored unfinished ones."""
        scored: list[tuple[TrialLike, float]] = []
        for trial, state in self._trial_state.items():
            if state.last_score is not None and not (trial := self._latest(runner, trial)).is_finished():
                scored.append((trial, state.last_score))
        trials = [trial for trial, _ in sorted(scored, key=lambda entry: entry[1])]
        if len(trials) <= 1:
            return [], []
        count = min(math.ceil(len(trials) * self._quantile_fraction), len(trials) // 2)
        top = [t for t in trials[-count:] if self._trial_state[t].last_score != WORST_SCORE]
        return trials[:count], top  # an unusable (NaN) score is never a donor

    def _checkpoint_or_exploit(self, runner: "SchedulerRunner", trial: TrialLike, time: float,
                               lower: list[TrialLike], upper: list[TrialLike], current: TrialLike) -> None:
        trial = self._latest(runner, trial)
        state = self._trial_state[trial]
        if any(t.trial_id == trial.trial_id for t in upper):
            checkpoint = runner.checkpoint_trial(trial) if trial.trial_id == current.trial_id else trial.checkpoint
            state.last_checkpoint = checkpoint
            state.checkpoint_config = _copy_config(dict(trial.config)) if checkpoint is not None else None
            self._num_checkpoints += checkpoint is not None
        else:
            state.last_checkpoint = state.checkpoint_config = None  # not a top trial any more
        if any(t.trial_id == trial.trial_id for t in lower):
            donors = [t for t in upper if t.trial_id != trial.trial_id
                      and self._trial_state[t].last_checkpoint is not None]
            if donors:  # never clone a donor without a checkpoint (ray-project/ray#27170)
                self._exploit(runner, trial, self._latest(runner, self._random.choice(donors)), time)

    def _exploit(self, runner: "SchedulerRunner", trial: TrialLike, donor: TrialLike, time: float) -> None:
        state, donor_state = self._trial_state[trial], self._trial_state[donor]
        new_config = explore(donor_state.checkpoint_config or dict(donor.config), self._hyperparam_mutations,
                             self._resample_probability, self._custom_explore_fn, self._perturbation_factors,
                             self._random)
        new_tag = make_experiment_tag(state.orig_tag, new_config, self._hyperparam_mutations)
        if self._log_config:
            self.exploit_log.append({
                "time": time, "trial_id": trial.trial_id, "donor_id": donor.trial_id,
                "old_config": _copy_config(dict(trial.config)), "new_config": _copy_config(new_config),
                "old_tag": trial.experiment_tag, "new_tag": new_tag,
            })
        assert donor_state.last_checkpoint is not None  # donors have one (_checkpoint_or_exploit)
        runner.exploit_trial(trial, new_config, new_tag, donor_state.last_checkpoint)
        self._num_perturbations += 1
        self._set_perturbation_time(trial, donor_state.last_perturbation_time)

    def _synch_round(self, runner: "SchedulerRunner", trial: TrialLike, time: float) -> str:
        """Synchronous PBT: PAUSE at the interval until every unfinished trial got there, then judge them
        all at once (top trials are checkpointed before bottom ones clone them)."""
        live = [t for t in self._live_trials(runner) if not t.is_finished()]
        if all(t.trial_id == trial.trial_id or self._state_of(t).last_train_time >= self._next_perturbation_sync
               for t in live):
            lower, upper = self._quantiles(runner)
            judged = {t.trial_id for t in lower} | {t.trial_id for t in upper}
            middle = [t for t in self._trial_state if t.trial_id not in judged]
            for other in upper + middle + lower:
                self._checkpoint_or_exploit(runner, other, time, lower, upper, current=trial)
            latest = max(self._state_of(t).last_train_time for t in live)
            self._next_perturbation_sync = max(self._next_perturbation_sync + self._perturbation_interval, latest)
        return TrialScheduler.PAUSE

    def _state_of(self, trial: TrialLike) -> _PBTTrialState:
        state = self._trial_state.get(trial)
        return state if state is not None else _PBTTrialState(trial)

    def _set_perturbation_time(self, trial: TrialLike, time: float) -> None:
        self._trial_state[trial].last_perturbation_time = time
        if isinstance(trial, Trial):  # a hand-driven trial shows it, as in the seed; a view is frozen
            trial.last_perturbation_time = time

    # -- seed helpers, reporting and resume ----------------------------------------------------------
    def last_scores(self, trials: list[TrialLike]) -> list[float]:
        """The last recorded scores of the given unfinished trials (seed test helper)."""
        return [score for t in trials
                if (score := self._trial_state[t].last_score) is not None and not t.is_finished()]

    def reset_stats(self) -> None:
        self._num_perturbations = 0
        self._num_checkpoints = 0

    def debug_string(self) -> str:
        return f"PopulationBasedTraining: {self._num_checkpoints} checkpoints, {self._num_perturbations} perturbs"

    def save_state(self) -> dict:
        trials = {
            t.trial_id: {"orig_tag": s.orig_tag, "last_score": s.last_score, "has_checkpoint": s.last_checkpoint is not None,
                         "checkpoint_config": s.checkpoint_config, "last_perturbation_time": s.last_perturbation_time,
                         "last_train_time": s.last_train_time}
            for t, s in self._trial_state.items()
        }
        return {"trials": trials, "num_checkpoints": self._num_checkpoints, "num_perturbations": self._num_perturbations,
                "next_perturbation_sync": self._next_perturbation_sync, "random": self._random.getstate(),
                "exploit_log": list(self.exploit_log)}  # entries are copies, never changed

    def restore_state(self, state: dict, trials_by_id: dict[str, TrialLike]) -> None:
        """Resume; a top trial's donor checkpoint becomes the trial's own latest checkpoint."""
        self._trial_state = ByTrialId()
        for trial_id, saved in state["trials"].items():
            trial = trials_by_id.get(trial_id)
            if trial is None:
                continue
            s = self._trial_state[trial] = _PBTTrialState(trial)
            s.orig_tag, s.last_score = saved["orig_tag"], saved["last_score"]
            s.last_perturbation_time, s.last_train_time = saved["last_perturbation_time"], saved["last_train_time"]
            if saved["has_checkpoint"] and trial.checkpoint is not None:
                s.last_checkpoint, s.checkpoint_config = trial.checkpoint, saved["checkpoint_config"]
        self._num_checkpoints, self._num_perturbations = state["num_checkpoints"], state["num_perturbations"]
        self._next_perturbation_sync = state["next_perturbation_sync"]
        self._random.setstate(state["random"])
        self.exploit_log = list(state["exploit_log"])
