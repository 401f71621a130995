"""Where a trial's files are on the node that runs it, and how its checkpoints reach storage and come back.

The driver names every path as it would be in its own experiment folder (the *canonical* path: what the
journal records and `Trial.checkpoint` holds). A worker maps a canonical path to its node:

- With `TUNELAB_SCRATCH_DIR` set (in the environment of the worker, e.g. on a Ray node's `ray start`), the
  trial works in `<scratch>/<experiment folder name>/<trial folder>`: nodes share no folder with the driver.
- Otherwise it works in the canonical folder itself (one machine, or `local_dir` on a filesystem every node
  mounts).

With storage (`storage_path` / `upload_dir`), the worker uploads each checkpoint it writes before it reports
it (a checkpoint the driver records is in storage; it never passes through the driver), and a restore of a
checkpoint that is not on this node downloads it from storage first: a trial can restart on any node or
machine.

When storage is down, the first upload that fails costs its retries; then the worker uploads no checkpoint
for `TUNELAB_STORAGE_PAUSE_S` seconds (doubled after each failed try, at most a minute; a try after a pause
is a single attempt), so a long outage does not stall every report. The checkpoints in between stay on this
node (and are journaled by the driver: a restart on this machine finds them; elsewhere the newest checkpoint
in storage is used).
"""
from __future__ import annotations

import os
import sys
import time

from tunelab.storage.layout import CHECKPOINT_METADATA_FILE, SCRATCH_DIR_ENV
from tunelab.storage.remote import Storage, StorageError

#: after a failed checkpoint upload, how long (seconds) the worker uploads none; doubled per failure
PAUSE_S = float(os.environ.get("TUNELAB_STORAGE_PAUSE_S", "5"))
_MAX_PAUSE_S = 60.0


class TrialFiles:
    """A trial's folders as seen from the process that runs it (picklable: it travels to the worker)."""

    def __init__(self, experiment_dir: str, logdir: str, storage: Storage | None = None):
        self.experiment_dir = os.path.normpath(experiment_dir)
        self.logdir = os.path.normpath(logdir)
        self.storage = storage
        self._uploaded: set[str] = set()
        self._node_copies: list[str] = []  # scratch copies of uploaded checkpoints, oldest first
        self._pause_s = 0.0  # 0 while uploads work; after a failure, the current pause
        self._paused_until = 0.0  # time.monotonic() before which no upload is tried

    def __getstate__(self) -> dict:
        return {"experiment_dir": self.experiment_dir, "logdir": self.logdir, "storage": self.storage}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)  # type: ignore[misc]

    # -- canonical <-> local -----------------------------------------------------------------------
    def _relative(self, canonical: str) -> str | None:
        """`canonical` relative to the experiment folder, or None when it lies outside it."""
        path = os.path.normpath(canonical)
        if path == self.experiment_dir or path.startswith(self.experiment_dir + os.sep):
            return os.path.relpath(path, self.experiment_dir)
        return None

    def _scratch(self) -> str | None:
        scratch = os.environ.get(SCRATCH_DIR_ENV)
        return os.path.join(scratch, os.path.basename(self.experiment_dir)) if scratch else None

    def local_path(self, canonical: str) -> str:
        """Where the canonical path `canonical` is on this node."""
        scratch, rel = self._scratch(), self._relative(canonical)
        if scratch is None or rel is None:
            return canonical
        return os.path.normpath(os.path.join(scratch, rel))

    def canonical_path(self, local: str) -> str:
        """The canonical path of the local path `local` (the inverse of `local_path`)."""
        scratch = self._scratch()
        path = os.path.normpath(local)
        if scratch is not None and (path == scratch or path.startswith(scratch + os.sep)):
            return os.path.normpath(os.path.join(self.experiment_dir, os.path.relpath(path, scratch)))
        return path

    def local_logdir(self) -> str:
        return self.local_path(self.logdir)

    # -- checkpoints -------------------------------------------------------------------------------
    def persist_checkpoint(self, local_dir: str | None) -> str | None:
        """A checkpoint was written to `local_dir` on this node: upload it to storage (once) and return its
        canonical path, which is what the driver records. An upload that keeps failing leaves the checkpoint on
        this node only, and says so."""
        if local_dir is None:
            return None
        canonical = self.canonical_path(local_dir)
        rel = self._relative(canonical)
        if self.storage is None or rel is None or canonical in self._uploaded:
            return canonical
        if self.storage.is_local and os.path.normpath(os.path.join(self.storage.uri, rel)) == os.path.normpath(local_dir):
            return canonical  # written in place (storage is this folder)
        if time.monotonic() < self._paused_until:
            return canonical  # storage failed moments ago: this one stays on this node
        try:
            self.storage.put_dir(local_dir, rel, retries=1 if self._pause_s else None)
            self._uploaded.add(canonical)
        except StorageError as exc:
            self._pause_s = min(_MAX_PAUSE_S, self._pause_s * 2 if self._pause_s else PAUSE_S)
            self._paused_until = time.monotonic() + self._pause_s
            print(f"tunelab: checkpoint {local_dir} stays on this node only ({exc}); next upload try in "
                  f"{self._pause_s:.0f} s", file=sys.stderr, flush=True)
            return canonical
        if self._pause_s:
            print(f"tunelab: checkpoints reach storage {self.storage.uri} again", file=sys.stderr, flush=True)
            self._pause_s = 0.0
        if os.path.normpath(local_dir) != canonical:  # a scratch copy: storage has it, keep only the newest here
            self._drop_node_copies()
            self._node_copies.append(local_dir)
        return canonical

    def _drop_node_copies(self) -> None:
        import shutil

        for old in self._node_copies:
            shutil.rmtree(old, ignore_errors=True)
        self._node_copies.clear()

    def fetch_checkpoint(self, canonical: str) -> str:
        """The checkpoint `canonical` as a folder on this node, downloaded from storage if it is not here."""
        local = self.local_path(canonical)
        if os.path.exists(os.path.join(local, CHECKPOINT_METADATA_FILE)) or self.storage is None:
            return local
        rel = self._relative(canonical)
        if rel is None:  # a `restore=` path outside the experiment: it is where the user said
            return local
        if os.path.isdir(canonical) and os.path.exists(os.path.join(canonical, CHECKPOINT_METADATA_FILE)):
            return canonical  # the driver's own copy is visible here (same machine)
        self.storage.get_dir(rel, local)
        self._uploaded.add(canonical)  # it came from storage: nothing to upload again
        return local
