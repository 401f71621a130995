"""User-chosen trial names: `trial_name_creator(trial)` names the trial (its line in the status table and
its folder `<name>_<trial_id>`); `trial_dirname_creator(trial)` names its folder exactly."""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError

if TYPE_CHECKING:
    from tunelab.trial import Trial

_DIGITS = re.compile(r"([0-9]+)")
_SEPARATORS = tuple({"/", "\\", os.sep} | ({os.altsep} if os.altsep else set()))


def natural_key(text: str) -> list:
    """Sort key that orders digit runs as numbers: "2" before "10"."""
    parts: list = _DIGITS.split(text)
    for i in range(1, len(parts), 2):
        parts[i] = int(parts[i])
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].lower()
    return parts


def check_name_creator(option: str, creator: Any) -> Callable | None:
    """Validate a `trial_name_creator` / `trial_dirname_creator` option: None or a callable."""
    if creator is not None and not callable(creator):
        raise TuneError(f"{option} must be a function trial -> str, got {creator!r}")
    return creator


def created_name(option: str, creator: Callable, trial: "Trial") -> str:
    """Call `creator(trial)` and check that it gave a usable name: a non-empty string, no path separator."""
    name = creator(trial)
    if not isinstance(name, str) or not name.strip():
        raise TuneError(f"{option} must return a non-empty string, but returned {name!r} for trial {trial.trial_id}")
    if any(sep in name for sep in _SEPARATORS) or name in (".", ".."):
        raise TuneError(f"{option} returned {name!r} for trial {trial.trial_id}: a trial name must not contain "
                        f"a path separator ({' or '.join(repr(s) for s in _SEPARATORS)}) or be '.' / '..'")
    return name


def apply_name_creators(trial: "Trial", name_creator: Callable | None, dirname_creator: Callable | None,
                        used_dirnames: set[str]) -> None:
    """Give a new trial its custom name and folder name, if the experiment asked for them. Two trials of
    one experiment may share a name but not a folder (`used_dirnames` holds the experiment's)."""
    if name_creator is not None:
        trial.custom_trial_name = created_name("trial_name_creator", name_creator, trial)
    if dirname_creator is not None:
        dirname = created_name("trial_dirname_creator", dirname_creator, trial)
        if dirname in used_dirnames:
            raise TuneError(f"trial_dirname_creator returned {dirname!r} for trial {trial.trial_id}, a folder "
                            "name another trial of this experiment already has; include trial.trial_id in it")
        used_dirnames.add(dirname)
        trial.custom_dirname = dirname
