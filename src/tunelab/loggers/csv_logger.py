"""`CSVLoggerCallback`: `progress.csv`, one row per result, nested keys flattened as `a/b`.

The header comes from the first result. A later result with new keys extends it by rewriting the file
once (the seed raised instead); the common path stays one `writerow` and one flush. The config is left
out: it is in `params.json`.
"""
from __future__ import annotations

import csv
import io
import os
from typing import TYPE_CHECKING, Any

from tunelab.loggers.base import TrialFileLogger, keep_iteration, rewrite_atomically
from tunelab.loggers.encoding import flatten_dict
from tunelab.result_keys import CONFIG, TRAINING_ITERATION
from tunelab.storage.layout import PROGRESS_FILE
from tunelab.storage.lines import LineAppender

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunelab.trial_view import TrialView

_EXCLUDE = frozenset({CONFIG})


class _CsvFile:
    """An open progress.csv with its current header; each row is one whole-line write (a torn last row
    left by a kill is cut off on open, see `tunelab.storage.lines`)."""

    def __init__(self, path: str):
        self.path = path
        self.file = LineAppender(path)
        self.fields: list[str] = _read_header(path)
        self.fieldset = set(self.fields)
        self._buffer = io.StringIO()
        self.writer = csv.writer(self._buffer)

    def _write_row(self, values: list[Any]) -> None:
        self._buffer.seek(0)
        self._buffer.truncate()
        self.writer.writerow(values)
        self.file.write(self._buffer.getvalue())

    def write(self, row: dict[str, Any]) -> None:
        if not self.fieldset.issuperset(row):
            self._extend([key for key in row if key not in self.fieldset])
        self._write_row([row.get(key, "") for key in self.fields])

    def _extend(self, new_fields: list[str]) -> None:
        """Add columns: the first header is just written; a wider one rewrites the file once (rows
        padded with empty cells)."""
        if not self.fields:
            self.fields, self.fieldset = new_fields, set(new_fields)
            self._write_row(new_fields)
            return
        self.file.close()
        _, rows = _read_csv(self.path)
        self.fields += new_fields
        self.fieldset.update(new_fields)
        width = len(self.fields)
        _write_csv(self.path, self.fields, [row + [""] * (width - len(row)) for row in rows])
        self.file = LineAppender(self.path)

    def close(self) -> None:
        self.file.close()


class CSVLoggerCallback(TrialFileLogger[_CsvFile]):
    """Writes every result of every trial as one row of `<logdir>/progress.csv` (VisKit reads it)."""

    def _open(self, trial: "TrialView") -> _CsvFile:
        assert trial.logdir is not None  # TrialFileLogger._handle opens only trials that have a logdir
        return _CsvFile(os.path.join(trial.logdir, PROGRESS_FILE))

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        handle = self._handle(trial)
        if handle is not None:
            handle.write(flatten_dict(result, exclude=_EXCLUDE))

    def on_trial_restore(self, trial: "TrialView", iteration: int) -> None:
        super().on_trial_restore(trial, iteration)
        path = os.path.join(trial.logdir or "", PROGRESS_FILE)
        if not trial.logdir or not os.path.exists(path):
            return
        header, rows = _read_csv(path)
        if TRAINING_ITERATION in header:
            col = header.index(TRAINING_ITERATION)
            rows = [row for row in rows if keep_iteration(row[col] if col < len(row) else None, iteration)]
        _write_csv(path, header, rows)


def _read_header(path: str) -> list[str]:
    """The header of an existing CSV file, or [] when there is none yet."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return next(csv.reader(f), [])


def _read_csv(path: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV file (both empty for an empty file)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return (rows[0], rows[1:]) if rows else ([], [])


def _write_csv(path: str, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    rewrite_atomically(path, [buffer.getvalue()])
