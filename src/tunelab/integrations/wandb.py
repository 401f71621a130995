"""`WandbLoggerCallback`: log every trial of an experiment to Weights & Biases (Ray's
`ray.air.integrations.wandb.WandbLoggerCallback`).

One W&B run per trial: run name = the trial's name, run id = the trial id, config = the trial's config,
group = the experiment name unless `group=` says otherwise. Each result's numeric values are logged at
`step = training_iteration`; the run finishes (exit code 0) when the trial completes and with exit code 1
when it errors.

Why the runs live in the driver process, each made with `wandb.init(reinit="create_new")`: since
wandb 0.19.10 one process can hold several independent runs, each a `Run` object logging through
the one `wandb-core` service process that wandb starts, which does the disk and network I/O off the
caller's thread. So a `run.log` in a callback hook only queues a record: the controller is not slowed
by the network, and no extra process per trial (what Ray does, from before wandb could do this) has to
be started, fed and cleaned up when an experiment is interrupted. The callback never touches the
global `wandb.run`, so a user's own run in the driver is left alone. wandb is imported when the
callback is built.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from tunelab.callback import Callback
from tunelab.error import TuneError
from tunelab.loggers.encoding import flatten_dict
from tunelab.loggers.tbx_logger import SKIPPED_KEYS
from tunelab.metrics import as_number
from tunelab.storage.layout import CHECKPOINT_DIR_PREFIX

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunelab.trial_view import TrialView

__all__ = ["WandbLoggerCallback"]

MIN_WANDB = (0, 19, 10)  # the first wandb with wandb.init(reinit="create_new")
_ARTIFACT_NAME_CHARS = re.compile(r"[^\w\-.]")


def _import_wandb() -> Any:
    try:
        import wandb
    except ImportError:
        raise TuneError("WandbLoggerCallback needs wandb: pip install 'tunelab[wandb]'") from None
    version = tuple(int(part) for part in re.findall(r"\d+", wandb.__version__)[:3])
    if version < MIN_WANDB:
        raise TuneError(f"WandbLoggerCallback needs wandb>={'.'.join(map(str, MIN_WANDB))} (several runs in one "
                        f"process), found {wandb.__version__}: pip install -U 'tunelab[wandb]'")
    return wandb


class WandbLoggerCallback(Callback):
    """Log trials to W&B: `tunelab.run(..., callbacks=[WandbLoggerCallback(project="my-project")])`.

    Args:
        project: the W&B project (None: `$WANDB_PROJECT`, else W&B's default).
        group: the group of every trial's run; default: the experiment name.
        api_key_file: a file holding the W&B API key (else `$WANDB_API_KEY` or `wandb login` is used).
        api_key: the API key itself; give at most one of `api_key` and `api_key_file`.
        excludes: result keys not to log (top-level names, e.g. `["time_this_iter_s"]`).
        log_config: also update the run's config from each result's `config` (configs that change during
            training, as with PopulationBasedTraining).
        upload_checkpoints: log each checkpoint folder as a W&B artifact of type "model".
        save_checkpoints: the older name of `upload_checkpoints`.
        **kwargs: passed to `wandb.init` (entity, tags, notes, mode, dir, settings, ...).
    """

    def __init__(self, project: str | None = None, group: str | None = None, api_key_file: str | None = None,
                 api_key: str | None = None, excludes: list[str] | None = None, log_config: bool = False,
                 upload_checkpoints: bool = False, save_checkpoints: bool = False, **kwargs: Any):
        self._wandb = _import_wandb()
        if api_key_file is not None and api_key is not None:
            raise TuneError("WandbLoggerCallback: give api_key or api_key_file, not both")
        if api_key_file is not None:
            path = os.path.expanduser(api_key_file)
            if not os.path.isfile(path):
                raise TuneError(f"WandbLoggerCallback: api_key_file {api_key_file!r} is not a file")
            with open(path) as f:
                api_key = f.readline().strip()
        reserved = sorted({"id", "name", "config", "reinit"} & set(kwargs))
        if reserved:
            raise TuneError(f"WandbLoggerCallback sets {reserved} of wandb.init itself (one run per trial); "
                            "leave them out")
        if excludes is not None and (isinstance(excludes, str) or not all(isinstance(k, str) for k in excludes)):
            raise TuneError(f"WandbLoggerCallback: excludes must be a list of result keys, got {excludes!r}")
        self.project = project
        self.group = group
        self._api_key = api_key
        self.excludes = frozenset(excludes or ()) | SKIPPED_KEYS
        self.log_config = log_config
        self.upload_checkpoints = bool(upload_checkpoints or save_checkpoints)
        self.init_kwargs = kwargs
        self._runs: dict[str, Any] = {}  # trial_id -> open wandb Run
        self._experiment_name: str | None = None

    # -- runs --------------------------------------------------------------------------------------
    def setup(self, **info: Any) -> None:
        path = info.get("experiment_path")
        self._experiment_name = os.path.basename(os.path.normpath(path)) if path else None

    def _settings(self) -> Any:
        settings = self.init_kwargs.get("settings")
        if self._api_key is None:
            return settings
        if settings is None:
            return self._wandb.Settings(api_key=self._api_key)
        if isinstance(settings, dict):
            return {**settings, "api_key": self._api_key}
        settings.api_key = self._api_key
        return settings

    def _run(self, trial: "TrialView") -> Any:
        """The trial's run, started (with its config) the first time the trial is seen."""
        run = self._runs.get(trial.trial_id)
        if run is None:
            experiment = (trial.experiment_name or self._experiment_name
                          or os.path.basename(os.path.normpath(trial.local_dir or os.path.dirname(trial.logdir or ""))))
            # resume="allow": a trial of a resumed experiment continues its run (same id) online
            kwargs = {"project": self.project, "group": self.group or experiment or None, "resume": "allow",
                      **self.init_kwargs}
            kwargs["settings"] = self._settings()
            run = self._wandb.init(id=trial.trial_id, name=str(trial), config=dict(trial.config or {}),
                                   reinit="create_new", **kwargs)
            self._runs[trial.trial_id] = run
        return run

    def _finish(self, trial_id: str, exit_code: int) -> None:
        run = self._runs.pop(trial_id, None)
        if run is not None:
            run.finish(exit_code=exit_code)

    # -- hooks -------------------------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._run(trial)

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        run = self._run(trial)
        if self.log_config and isinstance(result.get("config"), dict):
            run.config.update(result["config"], allow_val_change=True)
        metrics = {}
        for key, value in flatten_dict(result, exclude=self.excludes).items():
            number = as_number(value)
            if number is not None:
                metrics[key] = number
        run.log(metrics, step=int(result.get("training_iteration") or 0))

    def on_checkpoint(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", checkpoint: Any,
                      **info: Any) -> None:
        path = getattr(checkpoint, "path", None)
        if not self.upload_checkpoints or not path or not os.path.isdir(path):
            return
        name = _ARTIFACT_NAME_CHARS.sub("_", f"{CHECKPOINT_DIR_PREFIX}{trial}")[:128]
        artifact = self._wandb.Artifact(name=name, type="model", metadata={"trial_id": trial.trial_id})
        artifact.add_dir(path)
        self._run(trial).log_artifact(artifact)

    def on_trial_complete(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._finish(trial.trial_id, 0)

    def on_trial_error(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._finish(trial.trial_id, 1)

    def on_experiment_end(self, trials: "Sequence[TrialView]", **info: Any) -> None:
        """Finish the runs of trials that did not end (the experiment was stopped or interrupted)."""
        for trial_id in list(self._runs):
            self._finish(trial_id, 0)
