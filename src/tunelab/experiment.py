"""`Experiment`: a validated experiment spec (keys, aliases, defaults) and the `{name: spec}` forms."""
from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Mapping
from typing import Any

from tunelab.error import TuneError
from tunelab.registry import trainable_name_for
from tunelab.resources import resources_from_dict
from tunelab.storage.remote import Storage, is_uri
from tunelab.validation import check_number, check_picklable

SPEC_KEYS = (
    "run", "stop", "config", "resources_per_trial", "num_samples", "local_dir", "checkpoint_freq",
    "checkpoint_at_end", "keep_checkpoints_num", "checkpoint_score_attr", "max_failures", "restore", "env",
    "upload_dir", "storage_path", "trial_name_creator", "trial_dirname_creator",
)
ALIASES = {"trial_resources": "resources_per_trial", "resources": "resources_per_trial", "repeat": "num_samples"}


def default_local_dir() -> str:
    return os.environ.get("TUNELAB_RESULTS_DIR") or os.path.join("~", "tunelab_results")


def resolve_local_dir(local_dir: str | None) -> str:
    """`local_dir` as an absolute path (`~` expanded); None means the results folder, `default_local_dir()`."""
    return os.path.abspath(os.path.expanduser(local_dir or default_local_dir()))


class Experiment:
    """One experiment: a trainable, its config space, stop rule, resources and checkpoint settings."""

    def __init__(
        self,
        name: str,
        run: Any,
        stop: Any = None,
        config: dict | None = None,
        resources_per_trial: Any = None,
        num_samples: int = 1,
        local_dir: str | None = None,
        checkpoint_freq: int = 0,
        checkpoint_at_end: bool = False,
        keep_checkpoints_num: int | None = None,
        checkpoint_score_attr: str | None = None,
        max_failures: int = 3,
        restore: str | None = None,
        trial_resources: Any = None,
        resources: Any = None,
        repeat: int | None = None,
        env: Any = None,
        upload_dir: str | None = None,
        storage_path: str | None = None,
        trial_name_creator: Any = None,
        trial_dirname_creator: Any = None,
        **options: Any,
    ):
        if not isinstance(name, str) or not name or "/" in name:
            raise TuneError(f"Experiment name must be a non-empty string without '/', got {name!r}")
        if run is None:
            raise TuneError(f"Experiment {name!r}: no trainable specified (the 'run' key is missing)")
        if isinstance(run, dict):
            raise TuneError(f"Experiment {name!r}: 'run' must be a trainable name, function or class, got {run!r}")
        _check_options(name, options)
        self.name = name
        self.trainable_name = trainable_name_for(run, lazy=True)  # a name may be registered later
        given = [v for v in (resources_per_trial, trial_resources, resources) if v is not None]
        if len(given) > 1:
            raise TuneError(f"Experiment {name!r}: give only one of resources_per_trial / trial_resources / resources")
        self.resources = resources_from_dict(given[0] if given else None)
        if repeat is not None:
            warnings.warn("'repeat' is deprecated, use 'num_samples'", DeprecationWarning, stacklevel=3)
            num_samples = repeat
        check_number(f"Experiment {name!r}: num_samples", num_samples, minimum=1, integer=True)
        check_number(f"Experiment {name!r}: checkpoint_freq", checkpoint_freq, minimum=0, integer=True)
        check_number(f"Experiment {name!r}: max_failures", max_failures, minimum=0, integer=True)
        check_number(f"Experiment {name!r}: keep_checkpoints_num", keep_checkpoints_num, minimum=1, integer=True,
                     allow_none=True)
        storage_path = os.fspath(storage_path) if isinstance(storage_path, os.PathLike) else storage_path
        for option, text in (("local_dir", local_dir), ("restore", restore), ("upload_dir", upload_dir),
                             ("storage_path", storage_path), ("checkpoint_score_attr", checkpoint_score_attr)):
            if text is not None and not isinstance(text, str):
                raise TuneError(f"Experiment {name!r}: {option} must be a string (or None), got {text!r}")
        if not isinstance(checkpoint_at_end, bool):
            raise TuneError(f"Experiment {name!r}: checkpoint_at_end must be True or False, got {checkpoint_at_end!r}")
        if config is not None and not isinstance(config, dict):
            raise TuneError(f"Experiment {name!r}: config must be a dict, got {type(config).__name__}")
        config = copy.copy(config) if config else {}
        check_picklable(config, "config")
        if env is not None:
            config["env"] = env
        from tunelab.stopper import make_stopper

        make_stopper(stop)  # validate early
        self.stop = stop if stop is not None else {}
        self.config = config
        self.num_samples = num_samples
        if upload_dir and storage_path and upload_dir != storage_path:
            raise TuneError(f"Experiment {name!r}: upload_dir={upload_dir!r} and storage_path={storage_path!r} mean the "
                            "same thing (where results are copied); give one of them")
        if storage_path and not is_uri(storage_path) and local_dir is None:
            local_dir = storage_path  # a local storage_path is where results go (as in Ray 2.x): nothing to copy
        self.local_dir = resolve_local_dir(local_dir)
        self.checkpoint_freq = checkpoint_freq
        self.checkpoint_at_end = bool(checkpoint_at_end)
        self.keep_checkpoints_num = keep_checkpoints_num
        self.checkpoint_score_attr = checkpoint_score_attr
        self.max_failures = max_failures
        self.restore = os.path.abspath(os.path.expanduser(restore)) if restore else None
        self.upload_dir = upload_dir
        self.storage_path = storage_path or upload_dir or None
        from tunelab.trial_naming import check_name_creator

        self.trial_name_creator = check_name_creator("trial_name_creator", trial_name_creator)
        self.trial_dirname_creator = check_name_creator("trial_dirname_creator", trial_dirname_creator)
        self.used_dirnames: set[str] = set()  # folder names trial_dirname_creator gave so far

    @property
    def path(self) -> str:
        """The experiment folder: `<local_dir>/<name>`."""
        return os.path.join(self.local_dir, self.name)

    @property
    def storage(self) -> Storage | None:
        """Where results and checkpoints are copied (`<storage_path>/<name>`), or None when they stay in
        `path` (no storage_path, or a local storage_path that is the experiment folder itself)."""
        if not self.storage_path:
            return None
        storage = Storage(self.storage_path).child(self.name)
        if storage.is_local and os.path.normpath(storage.uri) == os.path.normpath(self.path):
            return None
        return storage

    @property
    def spec(self) -> dict:
        """The spec as a dict (the form variant generation expands)."""
        return {
            "run": self.trainable_name,
            "stop": self.stop,
            "config": self.config,
            "num_samples": self.num_samples,
        }

    @classmethod
    def from_json(cls, name: str, spec: Mapping[str, Any]) -> "Experiment":
        """Build an Experiment from the seed's dict form; unknown keys raise TuneError."""
        if not isinstance(spec, Mapping):
            raise TuneError(f"Experiment {name!r}: the spec must be a dict, got {type(spec).__name__}")
        if "run" not in spec:
            raise TuneError(f"Experiment {name!r}: no trainable specified! Add a 'run' key naming the trainable.")
        from tunelab.options import NOT_SUPPORTED, REMOTE_STORAGE_OPTIONS

        unknown = [k for k in spec if k not in SPEC_KEYS and k not in ALIASES
                   and k not in NOT_SUPPORTED and k not in REMOTE_STORAGE_OPTIONS]
        if unknown:
            raise TuneError(
                f"Improper argument from JSON: unknown key(s) {unknown} in experiment {name!r}; "
                f"allowed keys are {sorted(SPEC_KEYS + tuple(ALIASES))}"
            )
        return cls(name, **dict(spec))

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, run={self.trainable_name!r})"


def _check_options(name: str, options: dict) -> None:
    """Refuse Experiment keywords that tunelab does not support (remote storage...) or does not know."""
    import inspect

    from tunelab.options import check_options

    accepted = [p for p, param in inspect.signature(Experiment.__init__).parameters.items()
                if p != "self" and param.kind is not param.VAR_KEYWORD]
    check_options(f"Experiment {name!r}", options, accepted)


def is_experiments(value: Any) -> bool:
    """True for what `convert_to_experiment_list` takes as experiments: an Experiment, a non-empty list of
    them, or a non-empty `{name: spec}` whose every spec is an Experiment or a dict naming its `"run"`."""
    if isinstance(value, Experiment):
        return True
    if isinstance(value, (list, tuple)):
        return bool(value) and all(isinstance(e, Experiment) for e in value)
    return isinstance(value, Mapping) and bool(value) and all(
        isinstance(spec, Experiment) or (isinstance(spec, Mapping) and "run" in spec) for spec in value.values())


def convert_to_experiment_list(experiments: Any) -> list[Experiment]:
    """Accept `{name: spec}`, an Experiment, or a list of Experiments."""
    if experiments is None:
        return []
    if isinstance(experiments, Experiment):
        return [experiments]
    if isinstance(experiments, Mapping):
        return [
            exp if isinstance(exp, Experiment) else Experiment.from_json(name, exp)
            for name, exp in experiments.items()
        ]
    if isinstance(experiments, (list, tuple)) and all(isinstance(e, Experiment) for e in experiments):
        return list(experiments)
    raise TuneError(f"experiments must be a dict {{name: spec}}, an Experiment or a list of Experiments; got {experiments!r}")
