"""What tunelab persists, in one place: every file and folder name it writes, and the journal's schema.

Every module that reads or writes an experiment's files takes the names from here (a test greps src/
for file-name literals elsewhere), so the on-disk layout can be read, and changed, in one module:

    <experiment dir>/
        .tunelab/journal.jsonl      the journal: one event per line (schema below)
        .tunelab/snapshot.pkl       the search algorithm's and scheduler's state (cloudpickle)
        .tunelab/lock               the driver's advisory lock (pid, host); never copied to storage
        <trial dir>/
            params.json, result.json, progress.csv, events.out.tfevents.*   the loggers' files
            trial_state.json        the trial's status for readers of the folder
            error.txt               every failure's traceback
            checkpoint_<i>/         a checkpoint (.tune_metadata, checkpoint.pkl for dict checkpoints)

A line file cut by a kill keeps its torn tail in `<file>.torn`; atomic rewrites go through `*.tmp`.

Journal schema (version 2): each line is a JSON object with an "event" and named fields:

    header              version, experiment, path, trainable, space, code, time
    trial_added         trial_id, spec (the trial's spec, cloudpickled and base64-encoded)
    status              trial_id, status, num_failures[, logdir][, error_file]
    checkpoint          trial_id, path, score (the retention score: higher is better)
    checkpoint_deleted  trial_id, path (removed by `keep_checkpoints_num` retention)
    exploit             trial_id, config (encoded), tag, checkpoint (PBT: the donor's checkpoint or null)

Version 1 (tunelab before the schema was named) wrote one-letter keys: {"e": "add", "id", "spec"},
{"e": "status", "id", "s", "f", "dir", "err"}, {"e": "ckpt", "id", "path"}, {"e": "config", "id",
"config", "tag"}. `read_event` reads both, line by line (a resumed old journal holds both).
"""
from __future__ import annotations

import os
import re
from typing import Any

# -- experiment state (`<experiment dir>/.tunelab/`) --------------------------------------------------
STATE_DIR = ".tunelab"
JOURNAL_FILE = "journal.jsonl"
SNAPSHOT_FILE = "snapshot.pkl"
LOCK_FILE = "lock"

# -- trial folders -----------------------------------------------------------------------------------
PARAMS_FILE = "params.json"
RESULT_FILE = "result.json"
PROGRESS_FILE = "progress.csv"
ERROR_FILE = "error.txt"
ERROR_FILE_PREFIX, ERROR_FILE_SUFFIX = "error", ".txt"  # earlier versions wrote error_<time>.txt too
TRIAL_STATE_FILE = "trial_state.json"
TB_EVENTS_PREFIX = "events.out.tfevents."
TRIAL_FILES = frozenset({RESULT_FILE, PARAMS_FILE, TRIAL_STATE_FILE})  # any of them marks a trial folder

# -- checkpoints -------------------------------------------------------------------------------------
CHECKPOINT_DIR_PREFIX = "checkpoint_"
CHECKPOINT_DIR_NAME = re.compile(r"^checkpoint_(\d+)$")
CHECKPOINT_METADATA_FILE = ".tune_metadata"
DICT_CHECKPOINT_FILE = "checkpoint.pkl"
CHECKPOINT_TMP_PREFIX = ".tmp_"  # a checkpoint folder being written, renamed into place when complete
CHECKPOINT_OLD_SUFFIX = ".old_"  # a checkpoint folder being replaced, removed once the new one is in place
MOCK_AGENT_FILE = "mock_agent.pkl"  # the mock trainable's checkpoint payload
KERAS_STATE_FILE = "tunelab_keras.json"  # the Keras callback's epoch count, beside the model in a checkpoint
LIGHTNING_TRAIN_CHECKPOINT_FILE = "checkpoint.ckpt"  # RayTrainReportCallback's Lightning checkpoint (Ray's name)
TUNER_FILE = "tuner.pkl"  # a Tuner's settings in its experiment folder, read by Tuner.restore

# -- storage (`storage_path` / `upload_dir`: the same layout under `<storage>/<name>/`) ------------------
STORAGE_PROBE_FILE = "probe"  # written and deleted in `.tunelab/` to check that storage can be written
#: the environment variable that gives a node its own folder for trial working directories (no shared disk)
SCRATCH_DIR_ENV = "TUNELAB_SCRATCH_DIR"

# -- partial writes ----------------------------------------------------------------------------------
TORN_SUFFIX = ".torn"
TMP_SUFFIX = ".tmp"


def state_dir(experiment_dir: str) -> str:
    return os.path.join(experiment_dir, STATE_DIR)


def checkpoint_dir_name(iteration: int) -> str:
    """The folder name of a trial's checkpoint at `iteration`: `checkpoint_<iteration>`."""
    return f"{CHECKPOINT_DIR_PREFIX}{int(iteration)}"


def torn_path(path: str) -> str:
    return path + TORN_SUFFIX


def tmp_path(path: str) -> str:
    return path + TMP_SUFFIX


def hidden_tmp_path(path: str, owner: int) -> str:
    """A per-process temp name beside `path` (hidden, so readers listing the folder skip it)."""
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{owner}{TMP_SUFFIX}")


# -- the journal's schema ----------------------------------------------------------------------------
JOURNAL_VERSION = 2
EVENT = "event"
HEADER, TRIAL_ADDED, STATUS = "header", "trial_added", "status"
CHECKPOINT, CHECKPOINT_DELETED, EXPLOIT = "checkpoint", "checkpoint_deleted", "exploit"
EVENTS = frozenset({HEADER, TRIAL_ADDED, STATUS, CHECKPOINT, CHECKPOINT_DELETED, EXPLOIT})

# version 1: event names and field names
_V1_EVENTS = {"header": HEADER, "add": TRIAL_ADDED, "status": STATUS, "ckpt": CHECKPOINT, "config": EXPLOIT}
_V1_FIELDS = {"id": "trial_id", "s": "status", "f": "num_failures", "dir": "logdir", "err": "error_file"}


def header_event(**fields: Any) -> dict:
    return {EVENT: HEADER, "version": JOURNAL_VERSION, **fields}


def trial_added_event(trial_id: str, spec: str) -> dict:
    return {EVENT: TRIAL_ADDED, "trial_id": trial_id, "spec": spec}


def status_event(trial_id: str, status: str, num_failures: int, logdir: str | None,
                 error_file: str | None) -> dict:
    event: dict[str, Any] = {EVENT: STATUS, "trial_id": trial_id, "status": status, "num_failures": num_failures}
    if logdir:
        event["logdir"] = logdir
    if error_file:
        event["error_file"] = error_file
    return event


def checkpoint_event(trial_id: str, path: str, score: float) -> dict:
    return {EVENT: CHECKPOINT, "trial_id": trial_id, "path": path, "score": score}


def checkpoint_deleted_event(trial_id: str, path: str) -> dict:
    return {EVENT: CHECKPOINT_DELETED, "trial_id": trial_id, "path": path}


def exploit_event(trial_id: str, config: str, tag: str, checkpoint: str | None) -> dict:
    return {EVENT: EXPLOIT, "trial_id": trial_id, "config": config, "tag": tag, "checkpoint": checkpoint}


def read_event(raw: Any) -> dict | None:
    """One parsed journal line in the current schema (a version-1 line is translated), or None when it
    is not a journal event at all."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get(EVENT)
    if isinstance(kind, str):
        return raw if kind in EVENTS else None
    old = raw.get("e")
    if not isinstance(old, str) or old not in _V1_EVENTS:
        return None
    event = {_V1_FIELDS.get(key, key): value for key, value in raw.items() if key != "e"}
    event[EVENT] = _V1_EVENTS[old]
    if old == "header":
        event["version"] = 1
    return event
