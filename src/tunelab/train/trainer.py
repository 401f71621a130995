"""`DataParallelTrainer`: Ray Train's trainer, run as one trial. `Tuner(trainer, param_space=
{"train_loop_config": {...}})` tunes it and `trainer.fit()` runs it alone; either way the training loop runs
in the trial's own process (one worker), where `tunelab.train.report` reports and checkpoints.

No framework is imported here: `tunelab.train.torch` adds the torch face and `tunelab.train.lightning`
the Lightning pieces.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tunelab.error import TuneError
from tunelab.suggest.space import deep_merge
from tunelab.train.scaling import ScalingConfig
from tunelab.tuner.config import RunConfig

__all__ = ["DataParallelTrainer", "PARAM_SPACE_KEYS"]

#: the keys a Tuner's param_space may have when it tunes a trainer (Ray's trainer parameters)
PARAM_SPACE_KEYS = ("train_loop_config",)


class DataParallelTrainer:
    """Runs `train_loop_per_worker(train_loop_config)` (or `train_loop_per_worker()`) in one process.

    Args:
        train_loop_per_worker: the training function; it reports with `tunelab.train.report`.
        train_loop_config: the config it gets; a Tuner's `param_space["train_loop_config"]` is merged in.
        scaling_config: `ScalingConfig(num_workers=1, use_gpu=..., resources_per_worker=...)`: the trial's
            resources.
        run_config: used by `fit()`, and by a Tuner that has no run_config of its own (as in Ray).

    `datasets`, `dataset_config`, `resume_from_checkpoint` and `metadata` (Ray Data and Ray Train
    bookkeeping) are refused with a TuneError rather than ignored.
    """

    _REFUSED = {
        "datasets": "Ray Data is not part of tunelab: load the data inside train_loop_per_worker",
        "dataset_config": "Ray Data is not part of tunelab: load the data inside train_loop_per_worker",
        "resume_from_checkpoint": "resume a Tuner experiment with Tuner.restore(path, trainable); a trial's "
                                  "checkpoint is tunelab.train.get_checkpoint()",
        "metadata": "Ray Train's checkpoint metadata is not kept; report what you need in the metrics",
    }

    def __init__(self, train_loop_per_worker: Callable[..., Any], *, train_loop_config: dict | None = None,
                 scaling_config: ScalingConfig | None = None, run_config: RunConfig | None = None,
                 **options: Any):
        owner = type(self).__name__
        for key, value in options.items():
            if key in self._REFUSED:
                if value is None:
                    continue
                raise TuneError(f"{owner}({key}=...) is not supported; {self._REFUSED[key]}")
            allowed = ", ".join(("train_loop_per_worker", "train_loop_config", "scaling_config", "run_config")
                                + self._extra_options())
            raise TuneError(f"{owner}: unknown keyword argument {key!r}. Accepted: {allowed}")
        if not callable(train_loop_per_worker):
            raise TuneError(f"{owner}(train_loop_per_worker=...) must be a function, got {train_loop_per_worker!r}")
        if train_loop_config is not None and not isinstance(train_loop_config, dict):
            raise TuneError(f"{owner}(train_loop_config=...) must be a dict, got {train_loop_config!r}")
        for field, value, kind in (("scaling_config", scaling_config, ScalingConfig),
                                   ("run_config", run_config, RunConfig)):
            if value is not None and not isinstance(value, kind):
                raise TuneError(f"{owner}({field}=...) must be a tunelab.train.{kind.__name__}, got {value!r}")
        self.train_loop_per_worker = train_loop_per_worker
        self.train_loop_config = dict(train_loop_config or {})
        self.scaling_config = scaling_config or ScalingConfig()
        self.run_config = run_config
        self._takes_config = _takes_config(train_loop_per_worker, owner)

    @classmethod
    def _extra_options(cls) -> tuple[str, ...]:
        return ()

    def check_param_space(self, param_space: dict | None) -> None:
        """A Tuner's param_space for this trainer holds `train_loop_config` only (a dict)."""
        owner = type(self).__name__
        for key, value in (param_space or {}).items():
            if key not in PARAM_SPACE_KEYS:
                raise TuneError(f"Tuner(param_space=...) for a {owner} may only hold "
                                f"{', '.join(map(repr, PARAM_SPACE_KEYS))} (the training loop's config), got "
                                f"{key!r}; put the hyperparameters under 'train_loop_config'")
            if not isinstance(value, dict):
                raise TuneError(f"Tuner(param_space={{'train_loop_config': ...}}) must be a dict, got {value!r}")

    def as_trainable(self) -> Any:
        """A function trainable (named after the trainer class, as Ray names its trials) asking for the
        scaling config's resources; it calls the training loop with the merged `train_loop_config`."""
        from tunelab.trainable.with_resources import with_resources

        loop, base, takes_config = self.train_loop_per_worker, self.train_loop_config, self._takes_config

        def trainer_trial(config: dict) -> None:
            loop_config = deep_merge(base, config.get("train_loop_config") or {})  # as Ray merges param_space
            if takes_config:
                loop(loop_config)
            else:
                loop()

        trainer_trial.__name__ = trainer_trial.__qualname__ = type(self).__name__
        return with_resources(trainer_trial, self.scaling_config.trial_resources())

    def fit(self) -> Any:
        """Run the training loop as a one-trial experiment (the trainer's run_config); the `Result`.
        A failed run raises its error (a TuneError naming the trial's error file), as Ray's fit raises."""
        from tunelab.tuner.tuner import Tuner

        result = Tuner(self).fit()[0]
        if result.error is not None:
            raise result.error
        return result

    def __repr__(self) -> str:
        name = getattr(self.train_loop_per_worker, "__name__", repr(self.train_loop_per_worker))
        return f"{type(self).__name__}({name}, scaling_config={self.scaling_config!r})"


def _takes_config(fn: Callable[..., Any], owner: str) -> bool:
    """Ray's rule: the training loop takes no argument or one (the config)."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    except (TypeError, ValueError):
        return True
    if len(params) > 1:
        raise TuneError(f"{owner}: train_loop_per_worker must take no argument or one (the config), "
                        f"{getattr(fn, '__name__', fn)!r} takes {len(params)}")
    return len(params) == 1
