"""`Trainable`: the class API. Subclass it and implement `setup/step/save_checkpoint/load_checkpoint`
(or the seed's `_setup/_train/_save/_restore/_stop`); tunelab calls `train()` once per iteration."""
from __future__ import annotations

import copy
import inspect
import io
import os
import pickle
import shutil
import tempfile
import time
from typing import Any

from tunelab.error import TuneError
from tunelab.storage.layout import CHECKPOINT_METADATA_FILE as METADATA_FILE
from tunelab.storage.layout import CHECKPOINT_OLD_SUFFIX, CHECKPOINT_TMP_PREFIX, DICT_CHECKPOINT_FILE
from tunelab.trainable.checkpoint import checkpoint_dir_name
from tunelab.trainable.progress_state import ProgressState, check_result


def _overrides(obj: Any, name: str) -> bool:
    method = getattr(type(obj), name, None)
    return method is not None and method is not getattr(Trainable, name, None)


def write_checkpoint_dir(final_dir: str, write: Any) -> str:
    """Create `final_dir` atomically: `write(tmp_dir)` fills a temp folder that is then renamed into place,
    so a crash mid-save never leaves a half checkpoint under the final name."""
    parent = os.path.dirname(final_dir)
    os.makedirs(parent, exist_ok=True)
    tmp_dir = os.path.join(parent, f"{CHECKPOINT_TMP_PREFIX}{os.path.basename(final_dir)}_{os.urandom(3).hex()}")
    os.makedirs(tmp_dir)
    try:
        write(tmp_dir)
        if os.path.exists(final_dir):
            old = final_dir + f"{CHECKPOINT_OLD_SUFFIX}{os.urandom(3).hex()}"
            os.rename(final_dir, old)
            os.rename(tmp_dir, final_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp_dir, final_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return final_dir


def read_checkpoint_metadata(checkpoint_dir: str) -> dict:
    path = os.path.join(checkpoint_dir, METADATA_FILE)
    if not os.path.exists(path):
        return {}
    with open(path, "rb") as f:
        return pickle.load(f)


def find_checkpoint_dir(path: str) -> str:
    """The checkpoint folder holding `path` (a folder made by `save()` or a file inside one)."""
    path = os.path.abspath(os.path.expanduser(str(path)))
    probe = path if os.path.isdir(path) else os.path.dirname(path)
    while probe and probe != os.path.dirname(probe):
        if os.path.exists(os.path.join(probe, METADATA_FILE)):
            return probe
        probe = os.path.dirname(probe)
    if os.path.isdir(path):
        return path
    raise TuneError(f"No checkpoint found at {path!r}: expected a folder written by Trainable.save()")


def _make_result_logger(logger_creator: Any, config: dict) -> Any:
    """The seed's `logger_creator(config)`: a logger whose `logdir` becomes the trainable's folder and whose
    `on_result(result)` / `close()` are called for each result / at `stop()` (used outside tunelab.run)."""
    if logger_creator is None:
        return None
    if not callable(logger_creator):
        raise TuneError(f"Trainable(logger_creator=...) must be a function config -> logger, got {logger_creator!r}")
    return logger_creator(config)


class Trainable:
    """Base class for class trainables.

    Attributes set for you: `config`, `logdir` (the trial folder, also the working directory in a worker),
    `iteration`, `trial_id`. Return a dict of metrics from `step()`; tunelab adds the auto-filled fields.
    """

    def __init__(self, config: dict | None = None, logger_creator: Any = None, logdir: str | None = None,
                 trial_id: str | None = None):
        self.config = config if config is not None else {}
        self._result_logger = _make_result_logger(logger_creator, self.config)
        if logdir is None and self._result_logger is not None:
            logdir = getattr(self._result_logger, "logdir", None)
        if logdir is None:
            from tunelab.experiment import resolve_local_dir

            base = resolve_local_dir(None)
            os.makedirs(base, exist_ok=True)
            logdir = tempfile.mkdtemp(prefix=f"{type(self).__name__}_{time.strftime('%Y-%m-%d_%H-%M-%S')}_", dir=base)
        self.logdir = logdir
        self._progress = ProgressState(trial_id or os.urandom(4).hex())
        self._last_step_end = None
        self._setup_dispatch(copy.deepcopy(self.config))

    # -- public API --------------------------------------------------------------------------------
    @property
    def iteration(self) -> int:
        """Iterations trained so far (a subclass may assign its own value, as seed-era code did)."""
        user_value = self.__dict__.get("_user_iteration")
        return self._progress.iteration if user_value is None else user_value

    @iteration.setter
    def iteration(self, value: int) -> None:
        self.__dict__["_user_iteration"] = value

    @property
    def trial_id(self) -> str:
        return self._progress.trial_id

    @property
    def training_iteration(self) -> int:
        return self._progress.iteration

    def train(self) -> dict:
        """Run one iteration (`step()`/`_train()`) and return its result with the auto-filled fields."""
        start = time.time()
        result = check_result(self._step_dispatch(), f"{type(self).__name__}.step()")
        result = self._progress.fill(dict(result), time.time() - start, self.config)
        if self._result_logger is not None and hasattr(self._result_logger, "on_result"):
            self._result_logger.on_result(result)
        return result

    def save(self, checkpoint_dir: str | None = None) -> str:
        """Save to `<checkpoint_dir or logdir>/checkpoint_<iteration>/` atomically and return that folder."""
        base = checkpoint_dir or self.logdir
        final_dir = os.path.join(base, checkpoint_dir_name(self._progress.iteration))

        def write(tmp_dir: str) -> None:
            saved = self._save_dispatch(tmp_dir)
            meta = self._progress.metadata()
            if isinstance(saved, dict):
                with open(os.path.join(tmp_dir, DICT_CHECKPOINT_FILE), "wb") as f:
                    pickle.dump(saved, f)
                meta["saved_as_dict"] = True
            else:
                saved = tmp_dir if saved is None else str(saved)
                rel = os.path.relpath(os.path.abspath(saved), tmp_dir)
                if rel.startswith(".."):
                    raise TuneError(
                        f"{type(self).__name__}._save returned {saved!r}, which is outside the checkpoint folder "
                        f"{tmp_dir!r} it was given; save files inside that folder and return a path in it"
                    )
                if not os.path.exists(saved):
                    raise TuneError(f"{type(self).__name__}._save returned {saved!r}, which does not exist")
                meta["saved_as_dict"] = False
                meta["relative_path"] = rel
            with open(os.path.join(tmp_dir, METADATA_FILE), "wb") as f:
                pickle.dump(meta, f)

        return write_checkpoint_dir(final_dir, write)

    def restore(self, checkpoint_path: str) -> None:
        """Restore from a folder written by `save()` (or a path inside one)."""
        checkpoint_dir = find_checkpoint_dir(checkpoint_path)
        meta = read_checkpoint_metadata(checkpoint_dir)
        if meta.get("saved_as_dict"):
            with open(os.path.join(checkpoint_dir, DICT_CHECKPOINT_FILE), "rb") as f:
                self._restore_dispatch(pickle.load(f))
        else:
            rel = meta.get("relative_path", ".")
            self._restore_dispatch(os.path.normpath(os.path.join(checkpoint_dir, rel)))
        if meta:
            self._progress.load_metadata(meta)
        else:
            self._progress.reset_since_restore()

    def save_to_object(self) -> bytes:
        """The checkpoint as bytes (a gzipped tar of the checkpoint folder), e.g. to keep it in memory."""
        import tarfile  # here: `import tunelab` and the workers leave it out

        tmp = tempfile.mkdtemp(prefix="tunelab_obj_")
        try:
            path = self.save(tmp)
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                tar.add(path, arcname="checkpoint")
            return buffer.getvalue()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def restore_from_object(self, obj: bytes) -> None:
        """Restore from bytes made by `save_to_object()`."""
        import tarfile

        tmp = tempfile.mkdtemp(prefix="tunelab_obj_")
        try:
            with tarfile.open(fileobj=io.BytesIO(obj), mode="r:gz") as tar:
                tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
            self.restore(os.path.join(tmp, "checkpoint"))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def stop(self) -> None:
        """Release resources (`cleanup()` / `_stop()`), then close the `logger_creator` logger if any."""
        if _overrides(self, "cleanup"):
            self.cleanup()
        elif _overrides(self, "_stop"):
            self._stop()
        if self._result_logger is not None and hasattr(self._result_logger, "close"):
            self._result_logger.close()

    def reset_config(self, new_config: dict) -> bool:
        """Take `new_config` in place (PBT uses this to reuse a running trial); False if unsupported."""
        return False

    @classmethod
    def default_resource_request(cls, config: dict) -> Any:
        """Resources a trial of this class needs for `config`; None means 1 CPU."""
        return None

    @classmethod
    def can_checkpoint(cls) -> bool:
        return any(name in vars(klass) for klass in cls.__mro__[:-1] if klass is not Trainable
                   for name in ("_save", "save_checkpoint"))

    # -- hooks to override (modern names; the seed's underscore names also work) --------------------
    def setup(self, config: dict) -> None:
        """Build the model, load data. Called once with a copy of the config."""

    def step(self) -> dict:
        """Run one training iteration and return a dict of metrics."""
        raise TuneError(f"{type(self).__name__} must implement step() (or the seed's _train())")

    def save_checkpoint(self, checkpoint_dir: str) -> Any:
        """Save state into `checkpoint_dir`; return a path inside it, a dict, or None."""
        raise TuneError(f"{type(self).__name__} cannot checkpoint: implement save_checkpoint() (or _save())")

    def load_checkpoint(self, checkpoint: Any) -> None:
        """Restore from what `save_checkpoint` returned (a path or a dict)."""
        raise TuneError(f"{type(self).__name__} cannot restore: implement load_checkpoint() (or _restore())")

    def cleanup(self) -> None:
        """Release resources when the trial ends."""

    # -- dispatch between modern and seed names ----------------------------------------------------
    def _setup_dispatch(self, config: dict) -> None:
        if _overrides(self, "setup"):
            self.setup(config)
        elif _overrides(self, "_setup"):
            params = inspect.signature(self._setup).parameters
            self._setup(config) if params else self._setup()

    def _step_dispatch(self) -> Any:
        if _overrides(self, "step"):
            return self.step()
        if _overrides(self, "_train"):
            return self._train()
        return self.step()

    def _save_dispatch(self, checkpoint_dir: str) -> Any:
        if _overrides(self, "save_checkpoint"):
            return self.save_checkpoint(checkpoint_dir)
        if _overrides(self, "_save"):
            return self._save(checkpoint_dir)
        return self.save_checkpoint(checkpoint_dir)

    def _restore_dispatch(self, checkpoint: Any) -> None:
        if _overrides(self, "load_checkpoint"):
            self.load_checkpoint(checkpoint)
        elif _overrides(self, "_restore"):
            self._restore(checkpoint)
        else:
            self.load_checkpoint(checkpoint)

    # seed names, defined so subclasses may call super() -------------------------------------------
    def _setup(self, config: dict | None = None) -> None:
        """Seed name of setup()."""

    def _train(self) -> dict:
        """Seed name of step()."""
        return self.step()

    def _save(self, checkpoint_dir: str) -> Any:
        """Seed name of save_checkpoint()."""
        return self.save_checkpoint(checkpoint_dir)

    def _restore(self, checkpoint: Any) -> None:
        """Seed name of load_checkpoint()."""
        self.load_checkpoint(checkpoint)

    def _stop(self) -> None:
        """Seed name of cleanup()."""
