"""Line files that tunelab appends to (the journal, result.json, progress.csv).

Three rules keep them exact through kills and full disks:
- repaired on open: a torn last line (bytes after the last newline, from a write cut by a kill) is cut
  off and kept in `<file>.torn` before anything is appended, so no new line is ever glued onto it;
- written whole: `LineAppender.write` writes complete lines and, when the write fails (disk full,
  read-only), truncates the file back to where it was, so no partial line stays behind;
- read loudly: readers that skip a line they cannot parse say so (`warn_skipped`), never silently.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import warnings

from tunelab.error import TuneError
from tunelab.storage.layout import TORN_SUFFIX, torn_path

logger = logging.getLogger(__name__)

_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def storage_error(exc: OSError, path: str) -> TuneError:
    """A TuneError for a failed write of `path` that names its folder, the cause and what to do."""
    folder = os.path.dirname(path) or "."
    if exc.errno in _FULL:
        cause, fix = "the disk is full", f"free space on the disk of {folder}"
    elif exc.errno in _READ_ONLY:
        cause, fix = "the folder is read-only or not writable", f"make {folder} writable"
    else:
        cause, fix = exc.strerror or str(exc), "fix the cause"
    return TuneError(
        f"Cannot write {path}: {cause} ({exc}). The experiment stopped; everything written before is kept "
        f"and the state stays resumable: {fix}, then run it again with resume=True."
    )


def warn_skipped(path: str, count: int, why: str) -> None:
    """Report lines a reader skipped: a warning naming the file and how many."""
    if count:
        message = f"{path}: skipped {count} line(s) ({why})"
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        logger.warning(message)


def repair_torn_tail(path: str) -> int:
    """Cut the torn last line off `path` (appending it to `<path>.torn`); returns the bytes cut (0 when
    the file is missing, empty or ends with a newline)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise storage_error(exc, path) from exc
    try:
        size = os.fstat(fd).st_size
        cut, pos, block = 0, size, 4096
        while pos > 0:
            start = max(0, pos - block)
            newline = os.pread(fd, pos - start, start).rfind(b"\n")
            if newline >= 0:
                cut = start + newline + 1
                break
            pos, block = start, block * 4
        if cut == size:
            return 0
        torn = os.pread(fd, size - cut, cut)
        with open(torn_path(path), "ab") as f:
            f.write(torn + b"\n")
        os.ftruncate(fd, cut)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    finally:
        os.close(fd)
    message = (f"{path}: cut off a torn last line ({size - cut} bytes from an interrupted write) before "
               f"appending; it is kept in {path}{TORN_SUFFIX}")
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    logger.warning(message)
    return size - cut


class LineAppender:
    """An append-only text file written one batch of whole lines at a time (see the module doc)."""

    def __init__(self, path: str):
        self.path = path
        repair_torn_tail(path)
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_error(exc, path) from exc

    def write(self, text: str) -> None:
        """Append `text` (whole lines, ending with a newline); on failure nothing of it stays."""
        if self._fd is None:
            raise TuneError(f"{self.path} is closed")
        data = memoryview(text.encode("utf-8"))
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError as exc:
            try:
                os.ftruncate(self._fd, start)
            except OSError:  # pragma: no cover - truncating frees space, it does not fail on a full disk
                logger.warning("could not truncate %s back to %d bytes", self.path, start)
            raise storage_error(exc, self.path) from exc

    def flush(self) -> None:
        """Writes go straight to the file (no buffer): nothing to do."""

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def read_last_result(path: str, block: int = 4096) -> dict:
    """The last complete JSON object line of a result.json, reading only the end of the file. Lines it
    has to skip (torn by a kill, unreadable) are reported with a warning."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the `with f` below
    except OSError:
        return {}
    skipped = 0
    with f:
        size = f.seek(0, os.SEEK_END)
        while True:
            start = max(0, size - block)
            f.seek(start)
            lines = f.read(size - start).split(b"\n")
            skipped = 0
            for line in reversed(lines[1:] if start else lines):
                if line.strip():
                    try:
                        value = json.loads(line)
                    except ValueError:  # UnicodeDecodeError included
                        skipped += 1
                        continue
                    if isinstance(value, dict):
                        warn_skipped(path, skipped, "torn or unreadable, after the last result")
                        return value
                    skipped += 1
            if start == 0:
                warn_skipped(path, skipped, "torn or unreadable")
                return {}
            block *= 4
