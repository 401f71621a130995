"""`Tuner`: Ray 2.x's face on the one engine. `fit()` builds the same `tunelab.run` call a user would
write from the TuneConfig/RunConfig fields, and wraps its analysis in a `ResultGrid`.

At the start of `fit()` the Tuner saves its settings (`tuner.pkl`: param_space, TuneConfig, RunConfig)
in the experiment folder, so `Tuner.restore(path, trainable)` can rebuild the same call with `resume`.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

from tunelab.error import TuneError
from tunelab.options import check_options
from tunelab.storage.layout import TUNER_FILE, tmp_path
from tunelab.storage.remote import is_uri
from tunelab.tuner.config import RunConfig, TuneConfig, storage_path_to_local_dir
from tunelab.tuner.result_grid import ResultGrid

__all__ = ["Tuner", "TUNER_FILE"]



class Tuner:
    """`Tuner(trainable, param_space={...}, tune_config=TuneConfig(...), run_config=RunConfig(...))`;
    `fit()` runs the experiment and returns a `ResultGrid`. Failed trials do not raise: they are in
    `ResultGrid.errors` (as in Ray). `trainable` may be a `tunelab.train.torch.TorchTrainer`, tuned through
    `param_space={"train_loop_config": {...}}`."""

    def __init__(self, trainable: Any = None, *, param_space: dict | None = None,
                 tune_config: TuneConfig | None = None, run_config: RunConfig | None = None, **options: Any):
        check_options("Tuner", options, ("param_space", "tune_config", "run_config"), refused={})
        if trainable is None:
            raise TuneError("Tuner needs a trainable: a function f(config), a Trainable subclass or a registered name")
        if param_space is not None and not isinstance(param_space, dict):
            raise TuneError(f"Tuner(param_space=...) must be a dict, got {type(param_space).__name__}")
        for field, value, kind in (("tune_config", tune_config, TuneConfig), ("run_config", run_config, RunConfig)):
            if value is not None and not isinstance(value, kind):
                raise TuneError(f"Tuner({field}=...) must be a tunelab.{kind.__name__}, got {value!r}")
        from tunelab.train.trainer import DataParallelTrainer

        if isinstance(trainable, DataParallelTrainer):  # Ray Train's trainer: one trial per config
            trainable.check_param_space(param_space)
            run_config = run_config or trainable.run_config  # as in Ray: the trainer's, unless the Tuner has one
            trainable = trainable.as_trainable()
        self._trainable = trainable
        self._param_space = dict(param_space or {})
        self._tune_config = tune_config or TuneConfig()
        self._run_config = run_config or RunConfig()
        self._resume: Any = False
        self._experiment_path: str | None = None

    # -- running -----------------------------------------------------------------------------------
    def _path(self) -> str:
        """The experiment folder `<storage_path>/<name>` (the default name is chosen once, here)."""
        if self._experiment_path is None:
            from tunelab.api import default_experiment_name
            from tunelab.experiment import default_local_dir
            from tunelab.registry import trainable_name_for

            name = self._run_config.name or default_experiment_name(trainable_name_for(self._trainable))
            local_dir = self._run_config.local_dir or os.path.abspath(os.path.expanduser(default_local_dir()))
            self._experiment_path = os.path.join(local_dir, name)
        return self._experiment_path

    def fit(self) -> ResultGrid:
        """Run (or, after `Tuner.restore`, continue) the experiment; the results of every trial."""
        from tunelab.api import run

        path = self._path()
        if not self._resume:
            self._save_settings(path)
        options = dict(self._tune_config.run_options(), **self._run_config.run_options())
        options.update(name=os.path.basename(path), local_dir=os.path.dirname(path))
        analysis = run(self._trainable, config=self._param_space, resume=self._resume,
                       raise_on_failed_trial=False, **options)
        return ResultGrid(analysis, experiment_path=path)

    def get_results(self) -> ResultGrid:
        """The results in the experiment folder (after `fit`, or of a restored experiment), read from disk."""
        from tunelab.analysis import ExperimentAnalysis

        path = self._path()
        if not os.path.isdir(path):
            raise TuneError(f"Tuner.get_results: no experiment at {path!r} yet; call fit() first")
        analysis = ExperimentAnalysis(path, default_metric=self._tune_config.metric,
                                      default_mode=self._tune_config.mode)
        return ResultGrid(analysis, experiment_path=path)

    # -- restoring ---------------------------------------------------------------------------------
    def _save_settings(self, path: str) -> None:
        """Write `tuner.pkl` atomically. Callbacks that cannot be pickled are left out (a restore runs
        without them); if the rest cannot be pickled either, nothing is written and `fit` goes on, with a
        warning that Tuner.restore will not find this experiment."""
        import copy

        import cloudpickle

        settings = {"param_space": self._param_space, "tune_config": self._tune_config,
                    "run_config": self._run_config}
        try:
            blob = cloudpickle.dumps(settings)
        except Exception as exc:
            run_config = copy.copy(self._run_config)
            run_config.callbacks = None
            try:
                blob = cloudpickle.dumps(dict(settings, run_config=run_config))
            except Exception as again:  # the rest cannot be saved: fit still runs, restore will not find it
                warnings.warn(f"Tuner: param_space or tune_config cannot be pickled ({again!r}), so Tuner.restore "
                              "will not find this experiment; resume it with tunelab.run(..., name=, local_dir=, "
                              "resume=True) and the same arguments", stacklevel=3)
                return
            warnings.warn(f"Tuner: the callbacks cannot be pickled ({exc!r}); Tuner.restore will run without them",
                          stacklevel=3)
        os.makedirs(path, exist_ok=True)
        target = os.path.join(path, TUNER_FILE)
        with open(tmp_path(target), "wb") as f:
            f.write(blob)
        os.replace(tmp_path(target), target)

    @classmethod
    def can_restore(cls, path: str | os.PathLike) -> bool:
        """True when `path` is a Tuner experiment folder with state to resume."""
        from tunelab.storage.journal import Journal

        uri = os.fspath(path)
        if is_uri(uri):
            from tunelab.storage.layout import JOURNAL_FILE, STATE_DIR
            from tunelab.storage.remote import Storage

            storage = Storage(uri)
            return storage.exists(TUNER_FILE) and storage.exists(f"{STATE_DIR}/{JOURNAL_FILE}")
        local = storage_path_to_local_dir(path, "Tuner.can_restore")
        assert local is not None
        return os.path.isfile(os.path.join(local, TUNER_FILE)) and Journal(local).has_state()

    @classmethod
    def restore(cls, path: str | os.PathLike, trainable: Any, resume_unfinished: bool = True,
                resume_errored: bool = False, restart_errored: bool = False, param_space: dict | None = None,
                storage_filesystem: Any = None, **options: Any) -> "Tuner":
        """A Tuner that continues the experiment at `path` when `fit()` is called: finished trials are
        kept, unfinished ones resume from their latest checkpoint, errored ones stay errored unless
        `resume_errored` (continue them) or `restart_errored` (run them again from scratch)."""
        import pickle

        check_options("Tuner.restore", options, ("resume_unfinished", "resume_errored", "restart_errored",
                                                 "param_space"), refused={})
        check_options("Tuner.restore", {"storage_filesystem": storage_filesystem}, ())
        local = _restore_folder(os.fspath(path))
        if not resume_unfinished:
            raise TuneError("Tuner.restore(resume_unfinished=False) is not supported: unfinished trials always "
                            "resume from their latest checkpoint")
        if resume_errored and restart_errored:
            raise TuneError("Tuner.restore: pass resume_errored=True or restart_errored=True, not both")
        settings_file = os.path.join(local, TUNER_FILE)
        if not os.path.isfile(settings_file):
            raise TuneError(f"Tuner.restore: no Tuner experiment at {local!r} (no {TUNER_FILE}); pass the folder "
                            "<storage_path>/<name> of an experiment run with Tuner.fit(), or use "
                            "tunelab.run(..., resume=True) for one run with tunelab.run")
        with open(settings_file, "rb") as f:
            settings = pickle.load(f)
        run_config = settings["run_config"]
        run_config.name = os.path.basename(local)
        run_config.local_dir = os.path.dirname(local)
        if is_uri(os.fspath(path)):  # the experiment goes on in the storage it came from
            run_config.storage_path = os.fspath(path).rstrip("/").rpartition("/")[0]
        tuner = cls(trainable, param_space=settings["param_space"] if param_space is None else param_space,
                    tune_config=settings["tune_config"], run_config=run_config)
        tuner._resume = "RESTART_ERRORED" if restart_errored else "RESUME_ERRORED" if resume_errored else True
        return tuner


def _restore_folder(path: str) -> str:
    """The local experiment folder of `Tuner.restore(path)`. For a URI (the experiment's folder in storage,
    `s3://bucket/prefix/<name>`) on a machine that has no copy: the settings file comes from storage into
    `<default local_dir>/<name>`, and the rest follows when `fit()` resumes."""
    if not is_uri(path):
        local = storage_path_to_local_dir(path, "Tuner.restore")
        assert local is not None
        return local
    from tunelab.experiment import resolve_local_dir
    from tunelab.storage.remote import Storage

    name = path.rstrip("/").rpartition("/")[2]
    local = os.path.join(resolve_local_dir(None), name)
    storage = Storage(path)
    if not storage.exists(TUNER_FILE):
        raise TuneError(f"Tuner.restore: no Tuner experiment at {path!r} (no {TUNER_FILE} in storage); pass "
                        "<storage_path>/<name> of an experiment run with Tuner.fit()")
    storage.get_file(TUNER_FILE, os.path.join(local, TUNER_FILE))
    return local
