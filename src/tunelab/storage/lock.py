"""One driver per experiment folder: an advisory `flock` on `<experiment dir>/.tunelab/lock`.

Two drivers on one experiment (say a requeued batch job with resume="AUTO" while the old one still runs)
would interleave their trials' histories. The lock is held from before the state is read until the run
returns; the kernel drops it when its driver dies (SIGKILL included), so a new driver can take it at once.
The lock file holds the owner's pid and host so the refused driver can say who holds it.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time

from tunelab.error import TuneError
from tunelab.storage.layout import LOCK_FILE
from tunelab.storage.lines import storage_error


class ExperimentLock:
    """The lock of one experiment's state folder (`state_dir`)."""

    def __init__(self, state_dir: str):
        self.path = os.path.join(state_dir, LOCK_FILE)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise a TuneError naming the driver that holds it."""
        if self._fd is not None:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_error(exc, self.path) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = _owner(fd)
            os.close(fd)
            raise TuneError(
                f"The experiment at {os.path.dirname(os.path.dirname(self.path))} is being run by another driver "
                f"(pid {owner.get('pid', '?')} on host {owner.get('host', '?')}, since {owner.get('since', '?')}). "
                "Two drivers on one experiment would mix their results: wait for that one to finish or stop it, "
                "then resume; or use another name=."
            ) from None
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(owner).encode() + b"\n", 0)
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, self.path) from exc
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (closing the file releases it); safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _owner(fd: int) -> dict:
    try:
        value = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
