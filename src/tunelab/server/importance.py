"""Parameter importance for the dashboard: Optuna's fANOVA over the trials' configs and metric values.

No statistics of our own: the trials become an in-memory Optuna study (`optuna.trial.create_trial`) and
`optuna.importance.FanovaImportanceEvaluator` (a random-forest fANOVA from scikit-learn) ranks the
parameters. Needs `optuna` and `scikit-learn` (`pip install 'tunelab[server]'`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tunelab.analysis import metric_number
from tunelab.loggers.encoding import flatten_dict

__all__ = ["parameter_importance"]


def _scalar_params(config: dict) -> dict[str, Any]:
    """The config's leaves that can be a parameter (numbers, strings, booleans), flattened as `a/b`."""
    flat = flatten_dict(config, delimiter="/") if isinstance(config, dict) else {}
    return {k: v for k, v in flat.items() if isinstance(v, (int, float, str, bool)) and v is not None}


def _distributions(configs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An Optuna distribution per parameter that varies and that every trial has."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    common = set.intersection(*(set(c) for c in configs)) if configs else set()
    found: dict[str, Any] = {}
    for name in sorted(common):
        values = [c[name] for c in configs]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
        if numeric and min(values) < max(values):
            found[name] = FloatDistribution(float(min(values)), float(max(values)))
        elif not numeric and len({repr(v) for v in values}) > 1:
            found[name] = CategoricalDistribution(sorted({str(v) for v in values}))
    return found


def parameter_importance(trials: Sequence[tuple[dict, dict]], metric: str, mode: str) -> dict[str, Any]:
    """`{"importance": {param: share}, "message": text}` from (config, last result) pairs; the shares sum
    to 1. With fewer than 3 scored trials, no varying parameter or a missing library, `importance` is
    empty and `message` says why."""
    scored = []
    for config, result in trials:
        value = metric_number(result or {}, metric)
        if value is not None and math.isfinite(value):
            scored.append((_scalar_params(config), value))
    if len(scored) < 3:
        return {"importance": {}, "message": f"Parameter importance needs at least 3 trials that reported {metric!r}."}
    distributions = _distributions([c for c, _ in scored])
    if not distributions:
        return {"importance": {}, "message": "No parameter varies across the scored trials."}
    try:
        import optuna
        from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    except ImportError:
        return {"importance": {}, "message": "Parameter importance needs optuna and scikit-learn: "
                                             "pip install 'tunelab[server]'"}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    for config, value in scored:
        params = {name: (float(config[name]) if isinstance(dist, optuna.distributions.FloatDistribution)
                         else str(config[name])) for name, dist in distributions.items()}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value))
    try:
        shares = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    except ImportError:
        return {"importance": {}, "message": "Parameter importance needs scikit-learn: pip install 'tunelab[server]'"}
    return {"importance": {k: float(v) for k, v in shares.items()}, "message": ""}
