"""The executor contract: the controller's only view of processes, resources and messages."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, NamedTuple

from tunelab.error import TuneError

if TYPE_CHECKING:
    from tunelab.resources import Resources
    from tunelab.trial import Trial


class WorkerDied(TuneError):
    """The process (or actor) running a trial is gone (killed, crashed, out of memory)."""


class TrialStartFailed(WorkerDied):
    """The trial could not be started at all (its registered trainable is not runnable): no process ran it."""


class TrialCallFailed(TuneError):
    """A synchronous request to a trial (save, restore) raised in the trainable."""


class Event(NamedTuple):
    """Something a running trial did: kind is one of protocol.RESULT / FINISHED / ERROR; or STOPPED: the
    worker of a trial the driver stopped is done with it (its resources are free again)."""

    trial: "Trial"
    kind: str
    payload: tuple


class Executor(ABC):
    """Runs trials somewhere (local worker processes, Ray actors). Knows nothing of algorithms.

    A started trial runs until its first report, then waits: every RESULT event must be answered with
    `continue_trial` or `stop_trial` (and may be preceded by `save_trial` / `reset_trial` / `restore_trial`,
    which are synchronous and only valid while the trial waits for that answer). `stop_trial` ends the trial
    for the driver at once; its resources may stay reserved until a STOPPED event says they are free.
    """

    @abstractmethod
    def has_resources(self, resources: "Resources") -> bool:
        ...

    @abstractmethod
    def never_fits(self, resources: "Resources") -> str | None:
        ...

    @abstractmethod
    def start_trial(self, trial: "Trial", restore_path: str | None = None) -> None:
        ...

    @abstractmethod
    def continue_trial(self, trial: "Trial") -> None:
        ...

    @abstractmethod
    def stop_trial(self, trial: "Trial") -> None:
        ...

    @abstractmethod
    def save_trial(self, trial: "Trial") -> str | None:
        ...

    @abstractmethod
    def reset_trial(self, trial: "Trial", new_config: dict) -> bool:
        ...

    @abstractmethod
    def restore_trial(self, trial: "Trial", checkpoint_path: str) -> None:
        ...

    @abstractmethod
    def get_events(self, timeout: float) -> list[Event]:
        ...

    @abstractmethod
    def resource_summary(self) -> str:
        ...

    @abstractmethod
    def shutdown(self) -> None:
        ...

    def free_cpu(self) -> float | None:
        """CPUs free now, for sizing how many trials to take from the searcher (None: not known)."""
        return None

    def lost_capacity(self) -> str | None:
        """Why trials that do not fit now may fit later without any trial ending (the cluster lost nodes,
        which may come back or be replaced): they then wait instead of being a deadlock. None (the default):
        resources come back only when trials end."""
        return None

    def nodes_not_seeing(self, folder: str) -> list[dict]:
        """The nodes that run trials but do not see `folder` as the driver does (each a dict with at least
        `address`); empty (the default) when trials run on the driver's machine."""
        return []

    def is_stopping(self) -> bool:
        """Whether some stopped trial's resources are still reserved (a STOPPED event will free them)."""
        return False

    def settle(self) -> None:  # noqa: B027 - an optional hook: the default has nothing to wait for
        """At the end of an experiment: return once no worker is still busy with a stopped trial (default:
        stopping is synchronous, nothing to wait for)."""

    def wakeup(self) -> None:  # noqa: B027 - an optional hook: the default needs no wakeup
        """From another thread: make a blocked `get_events` return now (default: it returns within its
        timeout anyway)."""

