"""The experiment journal: an append-only JSON-lines log of trial events plus an atomic snapshot of the
search algorithm's and scheduler's state, in `<experiment dir>/.tunelab/`.

Appending one line per trial event (added, started, paused, checkpointed, checkpoint deleted, exploited,
failed, finished) costs O(1) and never rewrites earlier state; results themselves live in each trial's
`result.json`. The file names and the events' schema (versioned, named fields; older journals' lines are
translated on read) are in `tunelab.storage.layout`. A kill at any
byte leaves a journal whose last line may be torn: `read()` skips it (with a warning) and `open()` cuts
it off before appending (see `tunelab.storage.lines`). Anything else that does not parse — an empty
journal, a garbage line, a missing or unreadable snapshot — is corruption: a `TuneError` names the file
and how to recover, never a silent re-run of finished trials.
"""
from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

from tunelab.error import TuneError
from tunelab.storage import layout
from tunelab.storage.layout import JOURNAL_FILE, SNAPSHOT_FILE
from tunelab.storage.lines import LineAppender, storage_error, warn_skipped

RECOVER = ("To start over, run with resume=False (the old state files are kept, renamed) or under a new "
           "name=; to keep what finished, restore the file from a backup.")


def corrupt(path: str, what: str) -> TuneError:
    """The error for a corrupt or missing piece of an experiment's state."""
    return TuneError(f"Cannot resume: the experiment state file {path} {what}. {RECOVER}")


class Journal:
    """One experiment's journal file and snapshot."""

    def __init__(self, experiment_dir: str):
        self.dir = layout.state_dir(experiment_dir)
        self.path = os.path.join(self.dir, JOURNAL_FILE)
        self.snapshot_path = os.path.join(self.dir, SNAPSHOT_FILE)
        self._file: LineAppender | None = None

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def has_state(self) -> bool:
        """True when a journal or a snapshot is there (one without the other is reported by `read`)."""
        return self.exists() or os.path.exists(self.snapshot_path)

    def open(self, fresh: bool, header: dict | None = None) -> None:
        """Open for appending. `fresh` first moves an earlier run's state aside (kept, renamed) and creates
        the journal with `header` as its first line in one atomic step, so a journal never lacks it."""
        try:
            os.makedirs(self.dir, exist_ok=True)
            if fresh:
                stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
                for name in (JOURNAL_FILE, SNAPSHOT_FILE):
                    old = os.path.join(self.dir, name)
                    if os.path.exists(old):
                        os.replace(old, os.path.join(self.dir, f"{stamp}_{name}"))
                if header is not None:
                    _write_atomically(self.path, (_line(header)).encode("utf-8"))
        except OSError as exc:
            raise storage_error(exc, self.path) from exc
        self._file = LineAppender(self.path)

    def is_open(self) -> bool:
        return self._file is not None

    def append(self, event: dict) -> None:
        assert self._file is not None, "journal not open"
        self._file.write(_line(event))

    def read(self) -> list[dict]:
        """Every event, in order, the header first, in the current schema (`layout.read_event` translates
        lines an earlier version wrote). A torn last line (a kill mid-write) is skipped with a warning; any
        other unreadable line, or a journal without its header, raises a TuneError."""
        if not self.exists():
            raise corrupt(self.path, f"is missing (the snapshot {self.snapshot_path} is there)")
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise corrupt(self.path, f"cannot be read ({exc})") from exc
        lines = data.split(b"\n")
        torn = lines.pop()  # after the last newline: b"" unless the last write was cut
        events = []
        for number, raw in enumerate(lines, 1):
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise corrupt(self.path, f"has an unreadable line {number}: {raw[:80]!r}") from None
            event = layout.read_event(parsed)
            if event is None:
                raise corrupt(self.path, f"has an unexpected line {number}: {raw[:80]!r}")
            events.append(event)
        if not events or events[0][layout.EVENT] != layout.HEADER:
            raise corrupt(self.path, "is empty" if not data else "does not start with its header line")
        warn_skipped(self.path, 1 if torn else 0, "a torn last line from an interrupted write")
        return events

    def write_snapshot(self, state: Any) -> None:
        import cloudpickle

        try:
            _write_atomically(self.snapshot_path, cloudpickle.dumps(state))
        except OSError as exc:
            raise storage_error(exc, self.snapshot_path) from exc

    def read_snapshot(self) -> dict:
        """The snapshot (a dict with at least `events` and `num_trials`); a TuneError if it is missing
        or unreadable."""
        import pickle

        if not os.path.exists(self.snapshot_path):
            raise corrupt(self.snapshot_path, f"is missing (the journal {self.path} is there)")
        try:
            with open(self.snapshot_path, "rb") as f:
                state = pickle.load(f)
        except Exception as exc:  # any unpickling failure means a corrupt file
            raise corrupt(self.snapshot_path, f"cannot be read ({type(exc).__name__}: {exc})") from exc
        if not isinstance(state, dict) or not isinstance(state.get("events"), int) or "num_trials" not in state:
            raise corrupt(self.snapshot_path, "does not hold an experiment snapshot")
        return state

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _line(event: dict) -> str:
    return json.dumps(event, default=str, separators=(",", ":")) + "\n"


def _write_atomically(path: str, data: bytes) -> None:
    """Write `path` through a temp file and `os.replace`: a failure leaves the old file (or none)."""
    tmp = layout.tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def encode(obj: Any) -> str:
    """A picklable object as text for a journal line."""
    import cloudpickle

    return base64.b64encode(cloudpickle.dumps(obj)).decode("ascii")


def decode(text: str) -> Any:
    import pickle

    return pickle.loads(base64.b64decode(text))
