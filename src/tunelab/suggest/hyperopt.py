"""`HyperOptSearch`: Tree-structured Parzen Estimator search with hyperopt, driven ask-and-tell.

hyperopt is imported when a HyperOptSearch is built, never by `import tunelab.suggest`.
"""
from __future__ import annotations

import copy
import math
from functools import partial
from typing import Any

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.experiment import is_experiments
from tunelab.result_keys import EPISODE_REWARD_MEAN
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
from tunelab.validation import check_key, check_number

#: the seed's default objective, used when neither metric nor mode was ever given
SEED_METRIC = EPISODE_REWARD_MEAN

#: Random suggestions before TPE starts modelling (hyperopt's `n_startup_jobs`; its own default is 20,
#: Optuna's is 10). With DEFAULT_GAMMA, 10 did as well as 20 or better in most measured cases.
DEFAULT_N_INITIAL_POINTS = 10

#: TPE's good/bad split. hyperopt models the best `min(ceil(gamma * sqrt(n)), 25)` of n trials as
#: "good". Its own default, 0.25, keeps only 3 of 100 trials. 1.0 keeps 10 of 100, as many as Optuna's
#: `ceil(0.1 * n)`, and lowered the regret on every benchmark problem at 100 evaluations
#: (docs/search.md, "Why HyperOptSearch's defaults").
DEFAULT_GAMMA = 1.0


def _import_hyperopt() -> Any:
    try:
        import hyperopt
    except ImportError:
        raise TuneError("HyperOptSearch needs hyperopt: pip install tunelab[hyperopt]") from None
    return hyperopt


def _identity(config: Any) -> Any:
    return config


class HyperOptSearch(Searcher):
    """TPE search over a hyperopt space, or over tunelab domains (converted for hyperopt).

    Args:
        space: a native hyperopt space (`{"x": hp.uniform("x", 0, 1)}`) or a dict of tunelab domains;
            None to take the domains from the experiment config.
        metric, mode: what to optimise; `reward_attr` (seed name) means `metric=reward_attr, mode="max"`.
            The seed's positional order `HyperOptSearch(space, max_concurrent, reward_attr)` works too: an
            integer second argument is taken as `max_concurrent` (and a third as `reward_attr`).
        max_concurrent: at most this many live trials (None or 0: no limit).
        points_to_evaluate: configs to try first (choices given by value; for native spaces also by index).
        random_state_seed: makes the suggestions reproducible.
        n_initial_points: random suggestions before TPE starts modelling (hyperopt's `n_startup_jobs`).
        gamma: TPE's good/bad split, as hyperopt's `tpe.suggest` takes it: the best
            `min(ceil(gamma * sqrt(n)), 25)` of n trials are "good".
        The defaults (10 and 1.0) are not hyperopt's (20 and 0.25); `n_initial_points=20, gamma=0.25`
        gives hyperopt's own TPE.

    Trials still running are shown to TPE as hyperopt shows its queued and running jobs: without a loss,
    which TPE counts as infinite (so it steers the next suggestions away from them).
    """

    def __init__(self, space: dict | Any = None, metric: str | None = None, mode: str | None = None,
                 max_concurrent: int | None = 10, reward_attr: str | None = None,
                 points_to_evaluate: list[dict] | None = None, random_state_seed: int | None = None,
                 n_initial_points: int = DEFAULT_N_INITIAL_POINTS, gamma: float = DEFAULT_GAMMA):
        hyperopt = _import_hyperopt()
        import numpy as np

        if is_experiments(space):
            # the seed's HyperOptSearch(experiments, space, max_concurrent, reward_attr): the experiments are
            # kept for run_experiments(search_alg=...) and the other positional arguments move back one place
            self.initial_experiments = space
            space, metric, mode = metric, mode, None
            if isinstance(max_concurrent, str):  # a fourth positional argument: the seed's reward_attr
                mode, max_concurrent = max_concurrent, 10
        if isinstance(metric, int) and not isinstance(metric, bool):
            # the seed's positional order, HyperOptSearch(space, max_concurrent, reward_attr): a metric name
            # is never an integer, so an integer second argument is the seed's max_concurrent
            if max_concurrent != 10 or reward_attr is not None:
                raise TuneError(f"HyperOptSearch: got max_concurrent twice ({metric!r} as the second argument, "
                                "the seed's positional order, and as a keyword)")
            metric, max_concurrent, mode, reward_attr = None, metric, None, mode
        check_key("HyperOptSearch(reward_attr=...)", reward_attr, allow_none=True)
        if space is not None and not isinstance(space, (dict, hyperopt.pyll.Apply)):
            raise TuneError(f"HyperOptSearch: space must be a dict (of tunelab domains or hyperopt expressions) or "
                            f"a hyperopt expression, got {space!r}")
        if reward_attr is not None:
            if metric is not None or mode not in (None, "max"):
                raise TuneError(f"HyperOptSearch: give metric=/mode= or the seed's reward_attr= (always maximised), "
                                f"not both; got metric={metric!r}, mode={mode!r}, reward_attr={reward_attr!r}")
            metric, mode = reward_attr, "max"
        super().__init__(metric, mode)
        self._check_single_metric()
        check_number("HyperOptSearch(n_initial_points=...)", n_initial_points, minimum=0, integer=True)
        check_number("HyperOptSearch(gamma=...)", gamma, above=0, maximum=1)
        check_number("HyperOptSearch(random_state_seed=...)", random_state_seed, integer=True, allow_none=True)
        if points_to_evaluate is not None and (not isinstance(points_to_evaluate, list)
                                               or not all(isinstance(p, dict) for p in points_to_evaluate)):
            raise TuneError(f"HyperOptSearch: points_to_evaluate must be a list of dicts, got {points_to_evaluate!r}")
        self._live_cap = LiveTrialCap(max_concurrent, "HyperOptSearch(max_concurrent=...)")
        self._points = copy.deepcopy(points_to_evaluate or [])
        self._rng = np.random.default_rng(random_state_seed)
        self._algo = partial(hyperopt.tpe.suggest, n_startup_jobs=n_initial_points, gamma=gamma)
        self._domains: dict[Path, Domain] | None = None  # tunelab domains, or None for a native space
        self._native: Any = None
        self._template: dict = {}  # constants given with a tunelab-domain space
        self._domain: Any = None  # hyperopt.base.Domain
        self._trials: Any = None  # hyperopt.Trials
        self._next_point = 0
        self._live: dict[str, dict] = {}  # trial id -> its hyperopt trial document
        if space is not None and not (isinstance(space, dict) and not space):  # an Apply has no truth value
            self._set_space(space)

    # -- space -------------------------------------------------------------------------------------
    def _set_space(self, space: Any) -> None:
        hyperopt = _import_hyperopt()
        domains = sampled_domains(space, allow_lambdas=False) if isinstance(space, dict) else {}
        if domains:
            mixed = [label_of(p) for p, v in leaf_paths(space).items() if isinstance(v, hyperopt.pyll.Apply)]
            if mixed:
                raise TuneError(f"HyperOptSearch: the space mixes tunelab domains with hyperopt expressions "
                                f"(at {mixed}); use one kind")
            self._domains, self._template = domains, space
        else:
            self._native = space
        self._start()

    def _start(self) -> None:
        """Build the hyperopt domain and its trial history, seeded with the points to evaluate."""
        hyperopt = _import_hyperopt()
        self._make_domain()
        self._trials = hyperopt.Trials()
        docs = [self._point_doc(tid, point) for tid, point in enumerate(self._points)]
        if docs:
            self._trials.insert_trial_docs(docs)
            self._trials.refresh()

    def _make_domain(self) -> None:
        hyperopt = _import_hyperopt()
        if self._domains is None:
            expr = self._native
        else:
            expr = {label_of(path): _to_hyperopt(label_of(path), domain) for path, domain in self._domains.items()}
        self._domain = hyperopt.base.Domain(_identity, expr)

    def _point_doc(self, tid: int, point: dict) -> dict:
        """A hyperopt trial document for a point to evaluate (its choices given as indices)."""
        _import_hyperopt()
        from hyperopt.fmin import generate_trial

        if self._domains is None:
            params = _native_point_params(point, self._native)
        else:
            labelled, missing = point_to_params(point, self._domains)
            if missing:
                raise TuneError(f"HyperOptSearch: points_to_evaluate[{tid}] = {point!r} has no value for {missing}")
            params = {label: value for label, (_, value) in labelled.items()}
        doc = generate_trial(tid, params)
        for label in self._domain.params:  # inactive parameters of conditional spaces
            doc["misc"]["idxs"].setdefault(label, [])
            doc["misc"]["vals"].setdefault(label, [])
        return doc

    def set_search_properties(self, metric: str | list[str] | None, mode: str | list[str] | None,
                              config: dict | None = None) -> bool:
        self._adopt_metric_mode(metric, mode)
        self._check_single_metric()
        domains = sampled_domains(config or {})
        if not domains:
            return True
        if self._domain is not None:
            return False
        self._domains, self._template = domains, {}
        self._start()
        return True

    @property
    def _max_concurrent(self) -> int | None:
        """The live-trial limit (None: no limit), under the attribute name earlier versions had."""
        return self._live_cap.limit

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        self._live_cap.set_limit(max_concurrent)
        return True

    # -- ask and tell ------------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | None:
        self._check_ready()
        if self._live_cap.is_full(self._live):
            return None
        if self._next_point < len(self._points):
            doc = self._find_doc(self._next_point)
            self._next_point += 1
        else:
            new_ids = self._trials.new_trial_ids(1)
            self._trials.refresh()
            seed = int(self._rng.integers(2**31 - 1))
            self._trials.insert_trial_docs(self._algo(new_ids, self._domain, self._trials, seed))
            self._trials.refresh()
            doc = self._find_doc(new_ids[0])
        self._live[trial_id] = doc
        return self._config_of(doc)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Tell hyperopt the loss; failed trials and trials without the metric become hyperopt errors."""
        hyperopt = _import_hyperopt()
        doc = self._live.pop(trial_id, None)
        if doc is None:
            return
        values = None if error else self.metric_values(result)
        if values is None:
            doc["state"] = hyperopt.JOB_STATE_ERROR
            doc["misc"]["error"] = ("TuneError", "the trial failed or did not report the metric")
            self._trials.refresh()
            if not error and result is not None:
                raise self.missing_metric_error(trial_id, result)
            return
        if not metrics.is_usable(values[0]):
            # NaN/inf/non-number: hyperopt's documented answer for "the function is undefined here" is
            # STATUS_FAIL; TPE then learns only from STATUS_OK losses (see tunelab.metrics)
            doc["result"] = {"status": hyperopt.STATUS_FAIL, "failure": f"unusable metric value {values[0]!r}"}
            doc["state"] = hyperopt.JOB_STATE_DONE
            self._trials.refresh()
            return
        assert isinstance(self.mode, str)  # one metric (_check_single_metric), mode set (_check_ready)
        loss = -metrics.score(values[0], self.mode)  # hyperopt minimises; score: higher is better
        doc["result"] = {"loss": loss, "status": hyperopt.STATUS_OK}
        doc["state"] = hyperopt.JOB_STATE_DONE
        self._trials.refresh()

    # -- state -------------------------------------------------------------------------------------
    def save_state(self) -> Any:
        return {key: value for key, value in self.__dict__.items() if key not in ("_domain", "_algo")}

    def restore_state(self, state: Any) -> None:
        algo = self._algo
        self.__dict__.update(state)
        self._algo = algo
        if self._domains is not None or self._native is not None:
            self._make_domain()

    # -- internals ---------------------------------------------------------------------------------
    def _check_single_metric(self) -> None:
        if isinstance(self.metric, list):
            raise TuneError(f"HyperOptSearch optimises one metric, got {self.metric!r}; use OptunaSearch for several")

    def _check_ready(self) -> None:
        if self._domain is None:
            raise TuneError("HyperOptSearch has no search space: pass space= or put domains "
                            "(tunelab.uniform, choice, ...) in the experiment config")
        if self._metric is None and self._mode is None:
            self._metric, self._mode = SEED_METRIC, "max"
        if self._metric is None or self._mode is None:
            raise TuneError(f"HyperOptSearch needs both metric= and mode= ('min' or 'max'), "
                            f"got metric={self._metric!r}, mode={self._mode!r}")

    def _find_doc(self, tid: int) -> dict:
        return next(doc for doc in reversed(self._trials.trials) if doc["tid"] == tid)

    def _config_of(self, doc: dict) -> dict:
        """Evaluate the space at a trial document's parameter values (as hyperopt's own fmin does)."""
        hyperopt = _import_hyperopt()
        memo = self._domain.memo_from_config(hyperopt.base.spec_from_misc(doc["misc"]))
        ctrl = hyperopt.base.Ctrl(self._trials, current_trial=doc)
        hyperopt.utils.use_obj_for_literal_in_memo(self._domain.expr, ctrl, hyperopt.base.Ctrl, memo)
        raw = hyperopt.pyll.rec_eval(self._domain.expr, memo=memo, print_node_on_error=False)
        if self._domains is None:
            return _plain(raw)
        values = {path: _decode(label_of(path), domain, raw[label_of(path)]) for path, domain in self._domains.items()}
        return deep_merge(copy.deepcopy(self._template), unflatten(values))


def _to_hyperopt(label: str, domain: Domain) -> Any:
    """The hyperopt expression sampling a tunelab domain; a choice yields `(index, {nested label: value})`."""
    hp = _import_hyperopt().hp
    if isinstance(domain, Categorical):
        options = []
        for index, option in enumerate(domain.categories):
            nested = option_domains(option, f"{label}/{index}")
            options.append((index, {name: _to_hyperopt(name, inner) for name, (_, inner) in nested.items()}))
        return hp.choice(label, options)
    if isinstance(domain, Integer):
        upper = integer_upper(domain)
        if upper <= domain.lower:
            return domain.lower
        if domain.log:
            return hp.qloguniform(label, math.log(domain.lower), math.log(upper), domain.q)
        if domain.q == 1:
            return hp.uniformint(label, domain.lower, upper)
        return hp.quniform(label, domain.lower, upper, domain.q)
    if isinstance(domain, Float):
        if domain.mean is not None:
            if domain.q is not None:
                return hp.qnormal(label, domain.mean, domain.sd, domain.q)
            return hp.normal(label, domain.mean, domain.sd)
        low, high = domain.bounds()
        if domain.log:
            low, high = math.log(low), math.log(high)
            return hp.qloguniform(label, low, high, domain.q) if domain.q else hp.loguniform(label, low, high)
        if domain.q is not None:
            return hp.quniform(label, low, high, domain.q)
        return hp.uniform(label, low, high)
    raise TuneError(f"HyperOptSearch cannot sample {domain!r} (at {label!r})")


def _decode(label: str, domain: Domain, raw: Any) -> Any:
    """The config value for hyperopt's raw draw of a converted domain."""
    if isinstance(domain, Categorical):
        index, nested = raw
        return substitute_domains(domain.categories[index], f"{label}/{index}",
                                  lambda name, inner: _decode(name, inner, nested[name]))
    return finalize_value(domain, raw)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers, through dicts, lists and tuples (configs must serialize)."""
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(inner) for inner in value)
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def _native_point_params(point: dict, space: Any) -> dict[str, Any]:
    """A point for a native hyperopt space as `{label: value}`; an `hp.choice` value becomes its index
    (given by value, or by index as in the seed's examples)."""
    hyperopt = _import_hyperopt()
    params = {}
    for path, value in leaf_paths(point).items():
        node = space
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, hyperopt.pyll.Apply):
            raise TuneError(f"HyperOptSearch: points_to_evaluate key {label_of(path)!r} is not a parameter of the space")
        param = next((n for n in hyperopt.pyll.dfs(node) if n.name == "hyperopt_param"), None)
        if param is None:
            raise TuneError(f"HyperOptSearch: points_to_evaluate key {label_of(path)!r} is not a parameter of the space")
        if node.name == "switch":
            options = [arg.obj if arg.name == "literal" else arg for arg in node.pos_args[1:]]
            if value in options:
                value = options.index(value)
            elif not (isinstance(value, int) and 0 <= value < len(options)):
                raise TuneError(f"points_to_evaluate: {value!r} is not one of the choices for {label_of(path)!r}: "
                                f"{options!r}")
        params[param.arg["label"].obj] = value
    return params
