"""Keyword options that tunelab does not support (yet): every one is refused with a TuneError that says so,
never accepted and silently ignored, and a misspelled keyword names the close matches.

Storage is `storage_path=` (or the seed's `upload_dir`): a folder or a URI (docs/storage.md). Ray's other
syncing knobs are refused here, with what to use instead.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from tunelab.error import TuneError

_SYNC_INSTEAD = ("tunelab copies results to storage_path by itself (every few seconds, TUNELAB_SYNC_PERIOD_S), and "
                 "each checkpoint from the node that wrote it; see docs/storage.md")
#: Ray's options for syncing results, other than storage_path / upload_dir: name -> (values that mean what
#: tunelab does anyway, what instead)
SYNC_OPTIONS: dict[str, tuple[tuple, str]] = {
    "storage_filesystem": ((None,), "give storage_path as a URI (s3://bucket/prefix, gs://..., a folder): the "
                                   "filesystem and its credentials come from fsspec and the standard environment"),
    "sync_config": ((None,), _SYNC_INSTEAD),
    "sync_to_cloud": ((None, False), _SYNC_INSTEAD),
    "sync_to_driver": ((None, False, True), _SYNC_INSTEAD),  # results always reach the driver
    "sync_on_checkpoint": ((None, True), _SYNC_INSTEAD),  # checkpoints are always in storage once reported
    "sync_function": ((None,), _SYNC_INSTEAD),
    "cloud_sync_function": ((None,), _SYNC_INSTEAD),
}
#: every syncing option name (storage_path and upload_dir are accepted by tune.run and Experiment)
REMOTE_STORAGE_OPTIONS = ("upload_dir", "storage_path", *SYNC_OPTIONS)

#: Ray Tune options tunelab does not have: name -> (values that mean what tunelab always does, why/what instead)
NOT_SUPPORTED: dict[str, tuple[tuple, str]] = {
    "fail_fast": ((False, None), "use raise_on_failed_trial=True (failed trials raise at the end of the run)"),
    "reuse_actors": ((False, None), "each trial gets a fresh trainable (worker processes are reused anyway; PBT "
                                    "uses Trainable.reset_config where it can)"),
    # True is the seed's default on autoscaling clusters: trials wait for resources other trials hold (as
    # they always do here), and a request that can never fit fails at once, as the seed's did with no node
    # able to hold it; with no autoscaler there is nothing else to wait for, so both values are accepted
    "queue_trials": ((False, True, None), ""),
    "trial_executor": ((None,), "use tunelab.init(...) to size or choose the executor"),
    "progress_reporter": ((None,), "use verbose=0/1/2, or a Callback for custom output"),
    "log_to_file": ((False, None), "the worker's stdout/stderr goes to the driver's console"),
    "export_formats": ((None, (), []), "save model files yourself in save_checkpoint/_save"),
    "checkpoint_config": ((None,), "use checkpoint_freq, checkpoint_at_end, keep_checkpoints_num and "
                                   "checkpoint_score_attr"),
    "failure_config": ((None,), "use max_failures"),
    "loggers": ((None,), "pass logger callbacks in callbacks=[...] (JSON, CSV and TensorBoard loggers always run)"),
    "chdir_to_trial_dir": ((True, None), "trainables always run in their trial folder"),
    "return_trials": ((False, None), "use ExperimentAnalysis.trials"),
    "ray_auto_init": ((True, None), "tunelab starts its executor by itself"),
    "global_checkpoint_period": ((None,), "the experiment state is journaled on every trial event"),
    "param_space": ((None,), "use config=... (or tunelab.Tuner(trainable, param_space=...))"),
    "run_config": ((None,), "pass its fields (name, stop, callbacks, local_dir, ...) to tunelab.run directly, "
                            "or use tunelab.Tuner(..., run_config=...)"),
    "tune_config": ((None,), "pass its fields (metric, mode, num_samples, ...) to tunelab.run directly, "
                             "or use tunelab.Tuner(..., tune_config=...)"),
}


#: `ray.init` options seed scripts pass to what became `tunelab.init`
INIT_NOT_SUPPORTED: dict[str, tuple[tuple, str]] = {
    "redis_address": ((None,), "use tunelab.init(executor='ray', address='host:port') to run on a Ray cluster"),
    "ignore_reinit_error": ((True, False, None), ""),  # tunelab.init may always be called again
    "object_store_memory": ((None,), "tunelab has no object store; large objects go through with_parameters"),
    # Ray's choice between worker output on the driver's console and files under /tmp/raylogs; the seed's
    # examples all passed True. tunelab keeps trial output on the console (and each failure in the trial's
    # folder), so either value runs the script
    "redirect_output": ((False, True, None), ""),  # True is said aloud: see ACCEPTED_WITH_A_WARNING
    "local_mode": ((False, None), "trials always run in worker processes"),
    # Ray's switch for setting up its own loggers (Ray 2.x examples pass False): tunelab has none to set up
    "configure_logging": ((True, False, None), ""),
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


#: (keyword, value) pairs that 2018 scripts pass and that run unchanged, though tunelab does not do what they
#: asked: a warning says so rather than silence
ACCEPTED_WITH_A_WARNING: dict[tuple[str, Any], str] = {
    ("redirect_output", True): "redirect_output=True: tunelab keeps worker output on the driver's console (there "
                               "are no Ray log files to redirect it to); each failed trial's traceback is in its "
                               "folder's error.txt",
}


def check_options(where: str, given: Mapping[str, Any], accepted: Iterable[str],
                  refused: Mapping[str, tuple[tuple, str]] = NOT_SUPPORTED) -> None:
    """Refuse every keyword in `given` (those a function took through **kwargs): Ray options tunelab lacks
    say so (unless set to what tunelab does anyway); other names are misspellings, answered with the closest
    accepted names."""
    accepted = list(accepted)
    for key, value in given.items():
        if key in refused or key in SYNC_OPTIONS:
            harmless, instead = refused.get(key) or SYNC_OPTIONS[key]
            if any(value is h or (type(value) is type(h) and value == h) for h in harmless):
                said = ACCEPTED_WITH_A_WARNING.get((key, value)) if isinstance(value, bool) else None
                if said:
                    warnings.warn(f"{where}: {said}", UserWarning, stacklevel=3)
                continue  # asks for what tunelab always does
            raise TuneError(f"{where}: {key}={_shown(value)} is not supported; {instead}")
        known = accepted + list(refused) + list(SYNC_OPTIONS)
        import difflib  # only on a misspelling: keep `import tunelab` light

        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        listed = ", ".join(sorted(accepted))
        raise TuneError(f"{where}: unknown keyword argument {key!r}{hint}. Accepted: {listed}")
