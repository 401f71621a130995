"""The driver's side of storage: its files go up in the background, and come back on a new machine.

`ExperimentSync` copies what the driver writes in an experiment folder (the journal and snapshot, each
trial's params.json, result.json, progress.csv, TensorBoard events, status and error files) to storage in
a thread, every `TUNELAB_SYNC_PERIOD_S` seconds and once more at the end, off the report path. Checkpoint
folders are not its business: the worker that writes one uploads it (`trial_files.py`); the driver only
deletes the ones `keep_checkpoints_num` drops.

Each pass copies the snapshot and the journal as they were at its start, after the trials' files: so the
storage copy never has a snapshot newer than its journal, nor a journaled checkpoint whose results are
missing, and a new machine resumes from it exactly as from the local folder.

When storage fails (after the retries of `remote.py`) the pass is given up, the files stay on local disk,
the next pass tries again, and `problem` says so (the status table shows it).
"""
from __future__ import annotations

import logging
import os
import threading
import time

from tunelab.storage import layout
from tunelab.storage.remote import Storage, StorageError

logger = logging.getLogger(__name__)

SYNC_PERIOD_S = float(os.environ.get("TUNELAB_SYNC_PERIOD_S", "3"))

#: experiment-state files, copied last in a pass, snapshot before journal
_STATE_FILES = (layout.SNAPSHOT_FILE, layout.JOURNAL_FILE)


def _skipped_dir(name: str) -> bool:
    """Folders the driver does not copy: checkpoints (their worker uploads them) and ones being written."""
    if name == layout.STATE_DIR:
        return False
    return bool(layout.CHECKPOINT_DIR_NAME.match(name)) or name.startswith((layout.CHECKPOINT_TMP_PREFIX, ".")) \
        or layout.CHECKPOINT_OLD_SUFFIX in name


def _skipped_file(name: str) -> bool:
    return name == layout.LOCK_FILE or name.endswith(layout.TMP_SUFFIX) or name == layout.STORAGE_PROBE_FILE


class ExperimentSync:
    """Keeps `<storage>/` (an experiment's storage) a copy of the experiment folder `local_dir`."""

    def __init__(self, local_dir: str, storage: Storage, period_s: float | None = None):
        self.local_dir = local_dir
        self.storage = storage
        self.period_s = SYNC_PERIOD_S if period_s is None else period_s
        self.problem: str | None = None  # why the last pass failed (None: storage is up to date or syncing)
        self.bytes_uploaded = 0
        self._seen: dict[str, tuple[int, int]] = {}  # relative path -> (size, mtime_ns) last uploaded
        self._deletions: list[str] = []
        self._lock = threading.Lock()  # one pass at a time; guards _deletions
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tunelab-storage-sync", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.period_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.sync()

    def close(self) -> bool:
        """Stop the thread and copy everything once more; False (and a warning) when storage is not up to date."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        ok = self.sync()
        if not ok:
            _say(f"tunelab: storage {self.storage.uri} is not up to date ({self.problem}); every result is in "
                 f"{self.local_dir}. Run the experiment again with resume=True from this machine to finish copying.")
        return ok

    def delete_later(self, local_paths: list[str]) -> None:
        """Checkpoint folders that retention deleted locally: delete their storage copies in the next pass."""
        rels = [os.path.relpath(p, self.local_dir) for p in local_paths]
        with self._lock:
            self._deletions.extend(r for r in rels if not r.startswith(".."))
        self._wake.set()

    # -- one pass ----------------------------------------------------------------------------------
    def sync(self) -> bool:
        """Copy what changed since the last pass (and make pending deletions); True when it all went up."""
        with self._lock:
            try:
                self._pass()
            except (StorageError, OSError) as exc:
                if self.problem is None:
                    _say(f"tunelab: storage {self.storage.uri} failed ({exc}); trials go on, results stay in "
                         f"{self.local_dir} and are copied when storage is back")
                self.problem = f"{type(exc).__name__}: {exc}"
                return False
            if self.problem is not None:
                _say(f"tunelab: storage {self.storage.uri} is reachable again; it is up to date")
            self.problem = None
            return True

    def _pass(self) -> None:
        state_dir = layout.state_dir(self.local_dir)
        staged = {}  # the state files as they are now: copied after the trials' files
        for name in _STATE_FILES:
            path = os.path.join(state_dir, name)
            try:
                with open(path, "rb") as f:
                    staged[name] = (f.read(), _stamp(path))
            except FileNotFoundError:
                continue
        for path, rel, stamp in self._changed_files():
            # the stamp from before the copy: a file that grows during it differs from it in the next pass
            self.storage.put_file(path, rel)
            self._seen[rel] = stamp
            self.bytes_uploaded += stamp[0]
        for name in _STATE_FILES:
            if name not in staged:
                continue
            data, stamp = staged[name]
            rel = f"{layout.STATE_DIR}/{name}"
            if self._seen.get(rel) != stamp:
                self.storage.put_bytes(data, rel)
                self._seen[rel] = stamp
                self.bytes_uploaded += len(data)
        while self._deletions:
            self.storage.delete(self._deletions[0])
            self._deletions.pop(0)

    def _changed_files(self) -> list[tuple[str, str, tuple[int, int]]]:
        """(path, relative path, (size, mtime)) of each file that changed since it was last copied."""
        changed = []
        for folder, dirs, files in os.walk(self.local_dir):
            dirs[:] = [d for d in dirs if not _skipped_dir(d)]
            rel_folder = os.path.relpath(folder, self.local_dir)
            if rel_folder == layout.STATE_DIR:
                continue  # the state files are staged
            for name in files:
                if _skipped_file(name):
                    continue
                path = os.path.join(folder, name)
                rel = name if rel_folder == "." else f"{rel_folder.replace(os.sep, '/')}/{name}"
                try:
                    stamp = _stamp(path)
                except FileNotFoundError:
                    continue
                if self._seen.get(rel) != stamp:
                    changed.append((path, rel, stamp))
        return changed


def _say(message: str) -> None:
    """Storage trouble is said on the console (and to the log): the user must know where the results are."""
    import sys

    logger.warning(message)
    print(message, file=sys.stderr, flush=True)


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def fetch_experiment(storage: Storage, local_dir: str) -> bool:
    """Copy an experiment from storage into the empty `local_dir` (a new machine resuming it): the state and
    every trial's files, not the checkpoints (a trial's worker downloads its checkpoint when it restarts).
    False when storage holds no experiment there."""
    stamps = storage.list_stamps()
    if f"{layout.STATE_DIR}/{layout.JOURNAL_FILE}" not in stamps:
        return False
    started = time.monotonic()
    count = StorageMirror(storage, local_dir).refresh(stamps)
    logger.info("fetched %d files of %s from %s in %.1f s", count, local_dir, storage.uri, time.monotonic() - started)
    return True


def _driver_file(rel: str) -> bool:
    """Whether `rel` (a '/'-separated path in an experiment) is one of the driver's files, not a checkpoint's."""
    parts = rel.split("/")
    return not (any(_skipped_dir(p) for p in parts[:-1]) or _skipped_file(parts[-1]))


def checkpoints_in_storage(storage: Storage) -> set[str]:
    """The checkpoint folders in storage, relative to the experiment ('/'-separated): complete ones only (their
    metadata file is written last)."""
    found = set()
    for rel in storage.list_files():
        folder, _, name = rel.rpartition("/")
        if name == layout.CHECKPOINT_METADATA_FILE and layout.CHECKPOINT_DIR_NAME.match(folder.rpartition("/")[2]):
            found.add(folder)
    return found


class StorageMirror:
    """A read-only local copy of an experiment in storage, for readers on another machine (`tunelab show /
    plot / dashboard s3://...`): `refresh()` downloads the files whose size or modification time changed
    (not checkpoints); `start()` refreshes in a thread every `period_s`, so a dashboard follows a running
    experiment."""

    def __init__(self, storage: Storage, local_dir: str, period_s: float = 5.0):
        self.storage = storage
        self.local_dir = local_dir
        self.period_s = period_s
        self._seen: dict[str, object] = {}
        self._stop = threading.Event()

    def refresh(self, stamps: dict[str, object] | None = None) -> int:
        """Download what changed (in `stamps`, a listing just made, or a new one); the number of files."""
        count = 0
        for rel, stamp in (self.storage.list_stamps() if stamps is None else stamps).items():
            if not _driver_file(rel) or self._seen.get(rel) == stamp:
                continue
            self.storage.get_file(rel, os.path.join(self.local_dir, *rel.split("/")))
            self._seen[rel] = stamp
            count += 1
        return count

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.period_s):
                try:
                    self.refresh()
                except (StorageError, OSError) as exc:
                    logger.warning("storage %s: %s (showing the last copy)", self.storage.uri, exc)

        threading.Thread(target=loop, name="tunelab-storage-mirror", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
