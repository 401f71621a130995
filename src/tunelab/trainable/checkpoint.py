"""`Checkpoint`: a handle on a trial's saved state, either a folder on disk or an in-memory dict."""
from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tunelab.storage.layout import CHECKPOINT_DIR_NAME as _CHECKPOINT_DIR_NAME
from tunelab.storage.layout import DICT_CHECKPOINT_FILE as _DICT_FILE
from tunelab.storage.layout import checkpoint_dir_name

__all__ = ["Checkpoint", "checkpoint_dir_name", "checkpoint_dir_iteration"]


def checkpoint_dir_iteration(name: str) -> int | None:
    """The iteration in a checkpoint folder name, or None if it is not one. Accepts the zero-padded form
    (`checkpoint_000003`) that earlier tunelab versions wrote, so their experiments still resume."""
    match = _CHECKPOINT_DIR_NAME.match(os.path.basename(os.path.normpath(name)))
    return int(match.group(1)) if match else None


class Checkpoint:
    """A checkpoint handle. Build one with `from_directory(path)` or `from_dict(d)`.

    A directory checkpoint is just a path (nothing is copied); a dict checkpoint keeps the dict and is
    written as `checkpoint.pkl` when it must go to disk.
    """

    def __init__(self, path: str | None = None, data: dict | None = None):
        if (path is None) == (data is None):
            raise ValueError("Checkpoint needs exactly one of path or data")
        self.path = os.path.abspath(os.path.expanduser(path)) if path is not None else None
        self._data = data

    @classmethod
    def from_directory(cls, path: str | os.PathLike) -> "Checkpoint":
        return cls(path=os.fspath(path))

    @classmethod
    def from_dict(cls, data: dict) -> "Checkpoint":
        if not isinstance(data, dict):
            from tunelab.error import TuneError

            raise TuneError(f"Checkpoint.from_dict needs a dict, got {type(data).__name__}")
        return cls(data=dict(data))

    def to_dict(self) -> dict:
        """The checkpoint as a dict: the dict it was made from, or the dict saved in its folder."""
        if self._data is not None:
            return dict(self._data)
        assert self.path is not None  # __init__ sets exactly one of path and data
        dict_file = os.path.join(self.path, _DICT_FILE)
        if os.path.exists(dict_file):
            with open(dict_file, "rb") as f:
                return pickle.load(f)
        return {"checkpoint_dir": self.path}

    def to_directory(self, path: str | None = None) -> str:
        """Write (or copy) the checkpoint into `path` (a new temp folder if None) and return that folder."""
        target = path or tempfile.mkdtemp(prefix="tunelab_ckpt_")
        os.makedirs(target, exist_ok=True)
        if self._data is not None:
            with open(os.path.join(target, _DICT_FILE), "wb") as f:
                pickle.dump(self._data, f)
        elif os.path.abspath(target) != self.path:
            assert self.path is not None  # __init__ sets exactly one of path and data
            shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target

    @contextmanager
    def as_directory(self) -> Iterator[str]:
        """`with checkpoint.as_directory() as path:` the checkpoint as a local folder: its own folder for a
        directory checkpoint (read it, do not change it), a temporary one (removed afterwards) for a dict."""
        if self.path is not None:
            yield self.path
            return
        folder = self.to_directory()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def is_dict(self) -> bool:
        return self._data is not None

    def __fspath__(self) -> str:
        if self.path is None:
            raise TypeError("an in-memory Checkpoint has no path; call to_directory() first")
        return self.path

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Checkpoint) and (self.path, self._data) == (other.path, other._data)

    def __hash__(self) -> int:
        return hash(self.path)

    def __repr__(self) -> str:
        if self._data is None:
            return f"Checkpoint(path={self.path!r})"
        return f"Checkpoint(dict keys={list(self._data)})"
