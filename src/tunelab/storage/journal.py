"""The experiment journal: an append-only JSON-lines log of trial events plus an atomic snapshot of the
search algorithm's and scheduler's state, in `<experiment dir>/.tunelab/`.

Appending one line per trial event (added, started, paused, checkpointed, failed, finished) costs O(1)
and never rewrites earlier state; results themselves live in each trial's `result.json`. A kill at any
byte leaves a journal whose last line may be torn: `read()` ignores it.
"""
from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

STATE_DIR = ".tunelab"
JOURNAL_FILE = "journal.jsonl"
SNAPSHOT_FILE = "snapshot.pkl"


class Journal:
    """One experiment's journal file and snapshot."""

    def __init__(self, experiment_dir: str):
        self.dir = os.path.join(experiment_dir, STATE_DIR)
        self.path = os.path.join(self.dir, JOURNAL_FILE)
        self.snapshot_path = os.path.join(self.dir, SNAPSHOT_FILE)
        self._file: Any = None

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def open(self, fresh: bool) -> None:
        """Open for appending; `fresh` first moves an earlier run's journal aside (kept, renamed)."""
        os.makedirs(self.dir, exist_ok=True)
        if fresh and self.exists():
            stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
            for name in (JOURNAL_FILE, SNAPSHOT_FILE):
                old = os.path.join(self.dir, name)
                if os.path.exists(old):
                    os.replace(old, os.path.join(self.dir, f"{stamp}_{name}"))
        self._file = open(self.path, "a", encoding="utf-8")

    def append(self, event: dict) -> None:
        self._file.write(json.dumps(event, default=str, separators=(",", ":")) + "\n")
        self._file.flush()

    def read(self) -> list[dict]:
        """Every complete event, in order (a torn last line from a kill is dropped)."""
        events = []
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    break
        return events

    def write_snapshot(self, state: Any) -> None:
        import cloudpickle

        tmp = self.snapshot_path + ".tmp"
        with open(tmp, "wb") as f:
            cloudpickle.dump(state, f)
        os.replace(tmp, self.snapshot_path)

    def read_snapshot(self) -> Any:
        import pickle

        if not os.path.exists(self.snapshot_path):
            return None
        with open(self.snapshot_path, "rb") as f:
            return pickle.load(f)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def encode(obj: Any) -> str:
    """A picklable object as text for a journal line."""
    import cloudpickle

    return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")


def decode(text: str) -> Any:
    import pickle

    return pickle.loads(base64.b64decode(text))
