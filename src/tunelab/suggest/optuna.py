"""`OptunaSearch`: search with any Optuna sampler (TPE by default), driven ask-and-tell on a Study.

optuna is imported when an OptunaSearch is built, never by `import tunelab.suggest`.
"""
from __future__ import annotations

import copy
from typing import Any

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.result_keys import TRAINING_ITERATION
from tunelab.suggest.concurrency import LiveTrialCap
from tunelab.suggest.domains import Categorical, Domain, Float, Integer
from tunelab.suggest.searcher import Searcher
from tunelab.suggest.space import (
    Path,
    deep_merge,
    finalize_value,
    integer_upper,
    label_of,
    leaf_paths,
    option_domains,
    point_to_params,
    sampled_domains,
    substitute_domains,
    unflatten,
)
from tunelab.validation import check_number


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise TuneError("OptunaSearch needs optuna: pip install tunelab[optuna]") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class OptunaSearch(Searcher):
    """Search with an Optuna sampler over tunelab domains or a dict of Optuna distributions.

    Args:
        space: `{"x": optuna.distributions.FloatDistribution(0, 1)}` or a dict of tunelab domains; None to
            take the domains from the experiment config. Choices may hold dicts of further domains
            (conditional spaces); their parameters are named `"<key>/<option index>/<nested key>"`.
        metric, mode: one metric and "min"/"max", or lists of them for several objectives.
        points_to_evaluate: (partial) configs to try first, through `study.enqueue_trial`.
        sampler: any Optuna sampler; default `TPESampler(seed=seed)`.
        max_concurrent: at most this many live trials (None: no limit).
        storage: where the Optuna study lives: None keeps it in memory; an RDB URL (`"sqlite:///optuna.db"`,
            `"postgresql://..."`) or any `optuna.storages.BaseStorage` (e.g.
            `JournalStorage(JournalFileBackend("optuna.log"))`) makes the experiment readable by
            optuna-dashboard and `optuna.load_study` while it runs and afterwards.
        study_name: the study's name in `storage`; default "tunelab". An existing study of that name is
            continued (its trials teach the sampler), as `create_study(load_if_exists=True)` does.
    Trials a scheduler stopped early are told as PRUNED with their last value; failed ones as FAIL.
    """

    def __init__(self, space: dict | None = None, metric: str | list[str] | None = None,
                 mode: str | list[str] | None = None, points_to_evaluate: list[dict] | None = None,
                 sampler: Any = None, seed: int | None = None, max_concurrent: int | None = None,
                 storage: Any = None, study_name: str | None = None):
        optuna = _import_optuna()
        super().__init__(metric, mode)
        if sampler is not None and seed is not None:
            raise TuneError("OptunaSearch: seed= only seeds the default sampler; pass the seed to your sampler instead")
        if points_to_evaluate is not None and (not isinstance(points_to_evaluate, list)
                                               or not all(isinstance(p, dict) for p in points_to_evaluate)):
            raise TuneError(f"OptunaSearch: points_to_evaluate must be a list of dicts, got {points_to_evaluate!r}")
        check_number("OptunaSearch(seed=...)", seed, integer=True, allow_none=True)
        if storage is not None and not isinstance(storage, (str, optuna.storages.BaseStorage)):
            raise TuneError(f"OptunaSearch: storage must be None, an RDB URL string (e.g. 'sqlite:///optuna.db') "
                            f"or an optuna.storages.BaseStorage, got {storage!r}")
        if study_name is not None and (not isinstance(study_name, str) or not study_name):
            raise TuneError(f"OptunaSearch: study_name must be a non-empty string, got {study_name!r}")
        self._storage = storage
        self._study_name = study_name if study_name is not None else (None if storage is None else "tunelab")
        self._sampler = sampler if sampler is not None else optuna.samplers.TPESampler(seed=seed)
        self._points = copy.deepcopy(points_to_evaluate or [])
        self._live_cap = LiveTrialCap(max_concurrent, "OptunaSearch(max_concurrent=...)")
        self._domains: dict[Path, Domain] | None = None  # tunelab domains ...
        self._template: dict = {}  # ... and the constants given with them
        self._native: dict[str, Any] | None = None  # or {label: optuna distribution}
        self._native_paths: dict[str, Path] = {}
        self._study: Any = None
        self._live: dict[str, Any] = {}  # trial id -> optuna.Trial
        if space:
            self._set_space(space)

    # -- space -------------------------------------------------------------------------------------
    def _set_space(self, space: dict) -> None:
        optuna = _import_optuna()
        if not isinstance(space, dict):
            raise TuneError(f"OptunaSearch: space must be a dict, got {space!r}")
        domains = sampled_domains(space, allow_lambdas=False)
        leaves = leaf_paths(space)
        is_distribution = {path: isinstance(v, optuna.distributions.BaseDistribution) for path, v in leaves.items()}
        if domains:
            if any(is_distribution.values()):
                raise TuneError("OptunaSearch: the space mixes tunelab domains with optuna distributions "
                                f"(at {[label_of(p) for p, d in is_distribution.items() if d]}); use one kind")
            self._use_domains(domains, space)
            return
        bad = [label_of(path) for path, ok in is_distribution.items() if not ok]
        if bad:
            raise TuneError(f"OptunaSearch: space values must be optuna distributions or tunelab domains; {bad} are neither")
        self._native_paths = {label_of(path): path for path in leaves}
        self._native = {label: leaves[path] for label, path in self._native_paths.items()}

    def _use_domains(self, domains: dict[Path, Domain], template: dict) -> None:
        for path, domain in domains.items():
            _check_expressible(label_of(path), domain)
        self._domains, self._template = domains, template

    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        self._adopt_metric_mode(metric, mode)
        domains = sampled_domains(config or {})
        if not domains:
            return True
        if self._domains is not None or self._native is not None:
            return False
        self._use_domains(domains, {})
        return True

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self._live_cap.set_limit(max_concurrent)
        return True

    # -- ask and tell ------------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | None:
        study = self._ensure_study()
        if self._live_cap.is_full(self._live):
            return None
        if self._native is not None:
            trial = study.ask(fixed_distributions=self._native)
            config = unflatten({self._native_paths[label]: value for label, value in trial.params.items()})
        else:
            assert self._domains is not None  # _ensure_study refuses a searcher with neither space
            trial = study.ask()
            values = {path: _sample(trial, label_of(path), domain) for path, domain in self._domains.items()}
            config = deep_merge(copy.deepcopy(self._template), unflatten(values))
        if self._storage is not None:  # lets optuna-dashboard users find the tunelab trial
            trial.set_user_attr("tunelab_trial_id", trial_id)
        self._live[trial_id] = trial
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Tell the value(s); failed trials and trials without the metric are told as FAIL."""
        optuna = _import_optuna()
        trial = self._live.pop(trial_id, None)
        if trial is None:
            return
        values = None if error else self.metric_values(result)
        if values is None or not all(metrics.is_usable(v) for v in values):
            # NaN/inf/non-numbers: Optuna itself turns a NaN objective into FAIL; we do the same for all
            # unusable values so they never steer TPE (see tunelab.metrics)
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            if values is None and not error and result is not None:
                raise self.missing_metric_error(trial_id, result)
            return
        self._study.tell(trial, values if isinstance(self.metric, list) else values[0], skip_if_finished=True)

    def on_trial_early_stopped(self, trial_id: str, result: dict | None) -> None:
        """Tell a trial a scheduler stopped as PRUNED, with its last value as an intermediate value."""
        optuna = _import_optuna()
        trial = self._live.pop(trial_id, None)
        if trial is None:
            return
        values = self.metric_values(result)
        if values is not None and not isinstance(self.metric, list) and metrics.is_usable(values[0]):
            try:
                trial.report(values[0], step=int((result or {}).get(TRAINING_ITERATION) or 0))
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # see _ensure_study: told before a resume
        self._study.tell(trial, state=optuna.trial.TrialState.PRUNED, skip_if_finished=True)

    def add_evaluated_point(self, parameters: dict, value: Any, error: bool = False, pruned: bool = False,
                            intermediate_values: list | None = None) -> None:
        """Add a config evaluated elsewhere (`value`: a number, or a list for several objectives)."""
        optuna = _import_optuna()
        study = self._ensure_study()
        params, distributions = self._point(parameters, complete=True)
        state = optuna.trial.TrialState
        status = state.FAIL if error else state.PRUNED if pruned else state.COMPLETE
        values = None
        if status == state.COMPLETE:
            values = list(value) if isinstance(value, (list, tuple)) else [value]
        study.add_trial(optuna.trial.create_trial(
            state=status, values=values, params=params, distributions=distributions,
            intermediate_values=dict(enumerate(intermediate_values)) if intermediate_values else None,
        ))

    # -- internals ---------------------------------------------------------------------------------
    def _ensure_study(self) -> Any:
        """The study, created once metric, mode and space are known (its directions come from the modes)."""
        if self._study is not None:
            return self._study
        optuna = _import_optuna()
        if self._domains is None and self._native is None:
            raise TuneError("OptunaSearch has no search space: pass space= or put domains "
                            "(tunelab.uniform, choice, ...) in the experiment config")
        if self.metric is None or self.mode is None:
            raise TuneError(f"OptunaSearch needs metric= and mode= ('min' or 'max'), "
                            f"got metric={self.metric!r}, mode={self.mode!r}")
        modes = self.mode if isinstance(self.mode, list) else [self.mode]
        directions = ["maximize" if mode == "max" else "minimize" for mode in modes]
        # With a storage, a searcher restored from an older snapshot (an experiment resume) may tell a trial
        # the storage already holds as finished: skip_if_finished keeps the value told first.
        self._study = optuna.create_study(sampler=self._sampler, directions=directions, storage=self._storage,
                                          study_name=self._study_name, load_if_exists=self._storage is not None)
        if list(self._study.directions) != [optuna.study.StudyDirection[d.upper()] for d in directions]:
            raise TuneError(f"OptunaSearch: study {self._study_name!r} in {self._storage!r} was made with directions "
                            f"{[d.name.lower() for d in self._study.directions]}, not {directions} (metric/mode "
                            f"{self.metric!r}/{self.mode!r}); pick another study_name")
        for point in self._points:
            params, _ = self._point(point, complete=False)
            self._study.enqueue_trial(params)
        return self._study

    def _point(self, point: dict, complete: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """A user point as optuna `(params, distributions)`; choices by index."""
        if self._native is not None:
            flat = {label_of(path): value for path, value in leaf_paths(point).items()}
            unknown = sorted(set(flat) - set(self._native))
            if unknown:
                raise TuneError(f"OptunaSearch: point {point!r} has keys {unknown} that are not in the space")
            missing = sorted(set(self._native) - set(flat))
            params, distributions = flat, {label: self._native[label] for label in flat}
        else:
            assert self._domains is not None  # _ensure_study refuses a searcher with neither space
            labelled, missing = point_to_params(point, self._domains)
            params = {label: value for label, (_, value) in labelled.items()}
            distributions = {label: _distribution(label, domain) for label, (domain, _) in labelled.items()}
        if complete and missing:
            raise TuneError(f"OptunaSearch: point {point!r} has no value for {missing}")
        return params, distributions


def _distribution(label: str, domain: Domain) -> Any:
    """The optuna distribution sampling a tunelab domain (quantization is applied to the draw)."""
    distributions = _import_optuna().distributions
    if isinstance(domain, Categorical):
        return distributions.CategoricalDistribution(list(range(len(domain.categories))))
    if isinstance(domain, Integer):
        return distributions.IntDistribution(domain.lower, integer_upper(domain), log=domain.log)
    if isinstance(domain, Float) and domain.mean is None:
        return distributions.FloatDistribution(domain.lower, domain.upper, log=domain.log)
    raise TuneError(f"OptunaSearch cannot sample {domain!r} (at {label!r}): optuna has no such distribution; "
                    "use uniform/loguniform bounds instead")


def _check_expressible(label: str, domain: Domain) -> None:
    """Raise TuneError now for a domain (or one nested in a choice) that optuna cannot sample."""
    _distribution(label, domain)
    if isinstance(domain, Categorical):
        for index, option in enumerate(domain.categories):
            for name, (_, inner) in option_domains(option, f"{label}/{index}").items():
                _check_expressible(name, inner)


def _sample(trial: Any, label: str, domain: Domain) -> Any:
    """Draw a config value from `trial` (define-by-run, so choices may hold further domains)."""
    distribution = _distribution(label, domain)
    if isinstance(domain, Categorical):
        index = trial.suggest_categorical(label, distribution.choices)
        return substitute_domains(domain.categories[index], f"{label}/{index}",
                                  lambda name, inner: _sample(trial, name, inner))
    if isinstance(domain, Integer):
        raw = trial.suggest_int(label, distribution.low, distribution.high, log=distribution.log)
    else:
        raw = trial.suggest_float(label, distribution.low, distribution.high, log=distribution.log)
    return finalize_value(domain, raw)
