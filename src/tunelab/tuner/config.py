"""The Ray 2.x option objects: `TuneConfig`, `RunConfig`, `CheckpointConfig` and `FailureConfig`.

Each is a plain record of the `tunelab.run` keywords it stands for (`run_options()` says which), so the
Tuner builds the same call a `tunelab.run` user writes. Options tunelab cannot honour raise a TuneError
when the object is built, through the same `check_options` that guards `tunelab.run`.
"""
from __future__ import annotations

import os
from typing import Any

from tunelab.error import TuneError
from tunelab.options import NOT_SUPPORTED, check_options
from tunelab.storage.remote import is_uri
from tunelab.validation import check_number

__all__ = ["TuneConfig", "RunConfig", "CheckpointConfig", "FailureConfig", "storage_path_to_local_dir"]


def _refused(*names: str, **overrides: tuple[tuple, str]) -> dict[str, tuple[tuple, str]]:
    """The NOT_SUPPORTED entries for `names` (with Tuner wording where `overrides` gives it)."""
    table = {name: NOT_SUPPORTED[name] for name in names}
    table.update(overrides)
    return table


def _repr(obj: Any, fields: tuple[str, ...]) -> str:
    shown = ", ".join(f"{f}={getattr(obj, f)!r}" for f in fields if getattr(obj, f) is not None)
    return f"{type(obj).__name__}({shown})"


class CheckpointConfig:
    """Which checkpoints a trial keeps, and when a class trainable is asked to save.

    `num_to_keep` -> `keep_checkpoints_num`, `checkpoint_score_attribute` + `checkpoint_score_order` ->
    `checkpoint_score_attr` (`"min-<attr>"` for "min"), `checkpoint_frequency` -> `checkpoint_freq`,
    `checkpoint_at_end` -> `checkpoint_at_end` (None means False, as for Ray's function trainables).
    """

    _FIELDS = ("num_to_keep", "checkpoint_score_attribute", "checkpoint_score_order", "checkpoint_frequency",
               "checkpoint_at_end")

    def __init__(self, num_to_keep: int | None = None, checkpoint_score_attribute: str | None = None,
                 checkpoint_score_order: str = "max", checkpoint_frequency: int = 0,
                 checkpoint_at_end: bool | None = None, **options: Any):
        check_options("CheckpointConfig", options, self._FIELDS, refused={})
        check_number("CheckpointConfig(num_to_keep=...)", num_to_keep, minimum=1, integer=True, allow_none=True)
        check_number("CheckpointConfig(checkpoint_frequency=...)", checkpoint_frequency, minimum=0, integer=True)
        if checkpoint_score_order not in ("max", "min"):
            raise TuneError(f"CheckpointConfig(checkpoint_score_order={checkpoint_score_order!r}): "
                            "allowed: 'max', 'min'")
        if checkpoint_score_attribute is not None and not isinstance(checkpoint_score_attribute, str):
            raise TuneError("CheckpointConfig(checkpoint_score_attribute=...) must be a result key (str), got "
                            f"{checkpoint_score_attribute!r}")
        self.num_to_keep = num_to_keep
        self.checkpoint_score_attribute = checkpoint_score_attribute
        self.checkpoint_score_order = checkpoint_score_order
        self.checkpoint_frequency = checkpoint_frequency
        self.checkpoint_at_end = checkpoint_at_end

    def run_options(self) -> dict[str, Any]:
        """The `tunelab.run` keywords this config stands for."""
        score = self.checkpoint_score_attribute
        if score is not None and self.checkpoint_score_order == "min":
            score = "min-" + score
        return {"keep_checkpoints_num": self.num_to_keep, "checkpoint_score_attr": score,
                "checkpoint_freq": self.checkpoint_frequency, "checkpoint_at_end": bool(self.checkpoint_at_end)}

    def __repr__(self) -> str:
        return _repr(self, self._FIELDS)


class FailureConfig:
    """How often a failing trial is restarted from its latest checkpoint (`max_failures`, -1: always)."""

    _FIELDS = ("max_failures", "fail_fast")

    def __init__(self, max_failures: int = 0, fail_fast: bool | str = False, **options: Any):
        refused = _refused(fail_fast=((False, None), "a failed trial never stops the others; Tuner.fit() "
                                                      "returns and ResultGrid.errors lists the failures"))
        check_options("FailureConfig", dict(options, fail_fast=fail_fast), ("max_failures",), refused)
        check_number("FailureConfig(max_failures=...)", max_failures, minimum=-1, integer=True)
        self.max_failures = max_failures
        self.fail_fast = fail_fast

    def run_options(self) -> dict[str, Any]:
        # -1 (retry forever) has no tunelab.run spelling: a count no run reaches
        return {"max_failures": self.max_failures if self.max_failures >= 0 else 2**31 - 1}

    def __repr__(self) -> str:
        return _repr(self, self._FIELDS)


class TuneConfig:
    """What to search and how: metric/mode, the search algorithm, the scheduler, the sample count and
    the experiment-wide limits. The same keywords as `tunelab.run`."""

    _FIELDS = ("metric", "mode", "search_alg", "scheduler", "num_samples", "max_concurrent_trials",
               "time_budget_s", "trial_name_creator", "trial_dirname_creator")

    def __init__(self, metric: str | None = None, mode: str | None = None, search_alg: Any = None,
                 scheduler: Any = None, num_samples: int = 1, max_concurrent_trials: int | None = None,
                 time_budget_s: float | None = None, reuse_actors: bool = False, trial_name_creator: Any = None,
                 trial_dirname_creator: Any = None, **options: Any):
        check_options("TuneConfig", dict(options, reuse_actors=reuse_actors), self._FIELDS,
                      _refused("reuse_actors"))
        if mode not in (None, "min", "max"):
            raise TuneError(f"TuneConfig(mode={mode!r}): allowed: 'min', 'max' (or None)")
        if metric is not None and not isinstance(metric, str):
            raise TuneError(f"TuneConfig(metric={metric!r}) must be a result key (str)")
        check_number("TuneConfig(num_samples=...)", num_samples, minimum=-1, integer=True)
        if num_samples == 0:
            raise TuneError("TuneConfig(num_samples=0): allowed: a positive count, or -1 (sample until "
                            "time_budget_s or a stopper ends the experiment)")
        self.metric = metric
        self.mode = mode
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.num_samples = num_samples
        self.max_concurrent_trials = max_concurrent_trials
        self.time_budget_s = time_budget_s
        self.reuse_actors = reuse_actors
        self.trial_name_creator = trial_name_creator
        self.trial_dirname_creator = trial_dirname_creator

    def run_options(self) -> dict[str, Any]:
        options = {f: getattr(self, f) for f in self._FIELDS}
        if self.num_samples == -1:  # Ray: sample forever; the time budget or a stopper ends it
            options["num_samples"] = 2**31 - 1
        return options

    def __repr__(self) -> str:
        return _repr(self, self._FIELDS)


def storage_path_to_local_dir(storage_path: str | os.PathLike, where: str) -> str | None:
    """A local `storage_path` is where Ray writes `<storage_path>/<name>/`: exactly tunelab's `local_dir`.
    A URI (`s3://...`, `gs://...`) is storage the results are copied to: None (they are written under the
    default local_dir first)."""
    path = os.fspath(storage_path)
    if not isinstance(path, str) or not path:
        raise TuneError(f"{where}: storage_path must be a folder or a URI such as s3://bucket/prefix, got {path!r}")
    if path.startswith("file://"):
        path = path[len("file://"):]
    elif is_uri(path):
        return None
    return os.path.abspath(os.path.expanduser(path))


class RunConfig:
    """Where results go and when trials stop: `name`, `storage_path` (a local folder: tunelab's
    `local_dir`), `stop`, `callbacks`, `checkpoint_config`, `failure_config` and `verbose`."""

    _FIELDS = ("name", "storage_path", "stop", "callbacks", "checkpoint_config", "failure_config", "verbose")

    def __init__(self, name: str | None = None, storage_path: str | os.PathLike | None = None,
                 failure_config: FailureConfig | None = None, checkpoint_config: CheckpointConfig | None = None,
                 verbose: int | None = None, stop: Any = None, callbacks: list | None = None,
                 storage_filesystem: Any = None, sync_config: Any = None, progress_reporter: Any = None,
                 log_to_file: Any = False, **options: Any):
        given = dict(options, storage_filesystem=storage_filesystem, sync_config=sync_config,
                     progress_reporter=progress_reporter, log_to_file=log_to_file)
        check_options("RunConfig", given, self._FIELDS, _refused("progress_reporter", "log_to_file"))
        self.local_dir = None if storage_path is None else storage_path_to_local_dir(storage_path, "RunConfig")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise TuneError(f"RunConfig(name={name!r}) must be a non-empty folder name without '/'")
        for field, value, kind in (("failure_config", failure_config, FailureConfig),
                                   ("checkpoint_config", checkpoint_config, CheckpointConfig)):
            if value is not None and not isinstance(value, kind):
                raise TuneError(f"RunConfig({field}=...) must be a tunelab.{kind.__name__}, got {value!r}")
        if verbose is not None and not isinstance(verbose, bool):
            check_number("RunConfig(verbose=...)", verbose, minimum=0, integer=True)
        self.name = name
        self.storage_path = storage_path
        self.failure_config = failure_config
        self.checkpoint_config = checkpoint_config
        self.verbose = verbose
        self.stop = stop
        self.callbacks = callbacks

    def run_options(self) -> dict[str, Any]:
        """The `tunelab.run` keywords (`name` is decided by the Tuner, which needs the folder first)."""
        options: dict[str, Any] = {"stop": self.stop, "callbacks": self.callbacks, "local_dir": self.local_dir,
                                   "verbose": 1 if self.verbose is None else int(self.verbose)}
        if self.storage_path is not None and is_uri(os.fspath(self.storage_path)):
            options["storage_path"] = os.fspath(self.storage_path)
        options.update((self.checkpoint_config or CheckpointConfig()).run_options())
        options.update((self.failure_config or FailureConfig()).run_options())
        return options

    def __repr__(self) -> str:
        return _repr(self, self._FIELDS)
