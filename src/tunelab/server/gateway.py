"""The server's view of a running experiment: trial snapshots to read, commands to queue.

Only the controller's loop may change trials. Reads here use the frozen `TrialView`s that the loop
publishes each time it changes a trial, so the HTTP thread never sees a half-changed trial; every write
(add, stop) is wrapped in a `_Command`, submitted to the controller and run by the loop at the start of
its next step, while the HTTP thread waits for the outcome.
"""
from __future__ import annotations

import json
import math
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.loggers.encoding import dumps_result
from tunelab.metrics import check_mode
from tunelab.suggest.basic_variant import BasicVariantGenerator

if TYPE_CHECKING:
    from tunelab.controller import Controller
    from tunelab.trial import Trial
    from tunelab.trial_view import TrialView

    TrialLike = Trial | TrialView  # a live experiment's views, or a finished one's trials read from its folder

__all__ = ["MAX_TRIALS_PER_ADD", "ExperimentUnavailable", "FolderGateway", "Gateway", "ReadOnly", "TrialNotFound",
           "TrialReader", "trial_info"]

#: the most trials one add request may create: every trial costs the driver memory and the expansion runs
#: while the request waits (num_samples=10**7 would take gigabytes); larger additions take several requests
MAX_TRIALS_PER_ADD = 10_000


class TrialNotFound(TuneError):
    """No trial has the requested id (HTTP 404 in the REST form)."""

    def __init__(self, trial_id: str):
        super().__init__(f"Trial ({trial_id}) not found.")


class ExperimentUnavailable(TuneError):
    """The experiment has ended, or its loop did not take a command in time (HTTP 503)."""


class ReadOnly(TuneError):
    """A write sent to a dashboard that shows an experiment from its files (HTTP 405)."""

    def __init__(self, what: str):
        super().__init__(f"This server shows the experiment from its files (read-only, `tunelab dashboard`): "
                         f"{what} is not possible here. Steer a running experiment through the server it "
                         "started itself (with_server=True).")


def trial_info(trial: TrialLike) -> dict:
    """A trial snapshot as plain JSON values: id, trainable, config, status, last result (or None), paths."""
    return json.loads(dumps_result({
        "id": trial.trial_id,
        "trainable_name": trial.trainable_name,
        "config": dict(trial.config),
        "status": trial.status,
        "result": dict(trial.last_result) or None,
        "experiment_tag": trial.experiment_tag,
        "logdir": trial.logdir,
        "num_failures": trial.num_failures,
        "error_file": trial.error_file,
    }))


class _Command:
    """A zero-argument callable for the controller's queue that hands its outcome to a waiting thread."""

    def __init__(self, fn: Callable[[], Any]):
        self._fn = fn
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None

    def __call__(self) -> None:
        try:
            self.value = self._fn()
        except Exception as exc:
            self.error = exc
        finally:
            self.done.set()

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


class TrialReader(ABC):
    """The reads every server offers (trials, a trial's history, best so far, parameter importance); a
    subclass says where the trials come from (`_trials`, `_find`) and whether writes are possible."""

    read_only = True
    _improvements: _Improvements

    @abstractmethod
    def _trials(self) -> list[TrialLike]:
        """Every trial of the experiment, as a live view or as read from its folder."""

    def _find(self, trial_id: str) -> TrialLike:
        for trial in self._trials():
            if trial.trial_id == trial_id:
                return trial
        raise TrialNotFound(trial_id)

    def list_trials(self) -> list[dict]:
        return [trial_info(t) for t in self._trials()]

    def title(self) -> str:
        """The experiment's name(s), from the folders its trials write to."""
        names = sorted({os.path.basename(t.local_dir.rstrip(os.sep)) for t in self._trials() if t.local_dir})
        return ", ".join(names) or "experiment"

    def get_trial(self, trial_id: str) -> dict:
        return trial_info(self._find(trial_id))

    def history(self, trial_id: str) -> list[dict]:
        """Every result of the trial, from the result.json the loggers write in its own folder."""
        return json.loads(dumps_result({"results": _history(self._find(trial_id))}))["results"]

    def best_so_far(self, metric: str, mode: str) -> list[dict]:
        """`[{"time", "value", "trial"}]`: each result that improved the best `metric` value, in time order."""
        check_mode(mode, allow_none=False)
        points = []
        for trial in self._trials():
            points += [(stamp, value, trial.trial_id) for stamp, value in self._improvements.read(trial, metric, mode)]
        improved: list[dict] = []
        for stamp, value, trial_id in sorted(points):
            if not improved or (value > improved[-1]["value"] if mode == "max" else value < improved[-1]["value"]):
                improved.append({"time": stamp, "value": value, "trial": trial_id})
        return improved

    def importance(self, metric: str, mode: str) -> dict:
        """Parameter importance of the trials' configs for their last `metric` value (Optuna's fANOVA)."""
        from tunelab.server.importance import parameter_importance

        check_mode(mode, allow_none=False)
        return parameter_importance([(dict(t.config), dict(t.last_result)) for t in self._trials()], metric, mode)

    def add_trials(self, name: str, spec: dict) -> list[dict] | None:
        raise ReadOnly("adding trials")

    def stop_trial(self, trial_id: str) -> dict | None:
        self._find(trial_id)
        raise ReadOnly("stopping a trial")

    def close(self) -> None:  # noqa: B027 - a hook: readers hold nothing, the live gateway overrides it
        """Nothing to release for a reader."""


def _history(trial: TrialLike) -> list[dict]:
    from tunelab.analysis import read_results
    from tunelab.loggers.json_logger import RESULT_FILE

    path = os.path.join(trial.logdir, RESULT_FILE) if trial.logdir else ""
    results = read_results(path) if path and os.path.isfile(path) else []
    return results or ([dict(trial.last_result)] if trial.last_result else [])


class _Improvements:
    """Per trial, metric and mode, the results that improved the trial's own best value (all that best-so-far
    needs), read from its result.json incrementally: each read parses only the complete lines appended
    since the last one, so a page polling a growing file costs what was added, and the driver keeps two
    numbers per improvement rather than every result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], tuple[int, int, float | None, list[tuple[float, float]]]] = {}

    def read(self, trial: TrialLike, metric: str, mode: str) -> list[tuple[float, float]]:
        from tunelab.loggers.json_logger import RESULT_FILE

        path = os.path.join(trial.logdir, RESULT_FILE) if trial.logdir else ""
        try:
            stat = os.stat(path)
        except OSError:  # no file (yet): the last result, if any
            return self._improve(None, [], [dict(trial.last_result)] if trial.last_result else [], metric, mode)[1]
        key = (path, metric, mode)
        with self._lock:
            inode, offset, best, points = self._seen.get(key, (stat.st_ino, 0, None, []))
            if inode != stat.st_ino or stat.st_size < offset:  # replaced or truncated: read it again
                offset, best, points = 0, None, []
            if stat.st_size > offset:
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read(stat.st_size - offset)
                end = chunk.rfind(b"\n") + 1  # a line still being written waits for its end
                best, points = self._improve(best, points, _parse_lines(chunk[:end]), metric, mode)
                offset += end
            self._seen[key] = (stat.st_ino, offset, best, points)
            return points

    @staticmethod
    def _improve(best: float | None, points: list[tuple[float, float]], results: list[dict], metric: str,
                 mode: str) -> tuple[float | None, list[tuple[float, float]]]:
        from tunelab.analysis import metric_number

        points = list(points)
        for result in results:
            value, stamp = metric_number(result, metric), result.get("timestamp")
            if value is None or not math.isfinite(value) or not isinstance(stamp, (int, float)):
                continue
            if best is None or (value > best if mode == "max" else value < best):
                best = value
                points.append((float(stamp), value))
        return best, points


def _parse_lines(chunk: bytes) -> list[dict]:
    results = []
    for line in chunk.splitlines():
        try:
            value = json.loads(line)
        except ValueError:  # a torn line (a killed writer): the others still count
            continue
        if isinstance(value, dict):
            results.append(value)
    return results


class FolderGateway(TrialReader):
    """The trials of an experiment folder, read again from its files on every request (so a folder an
    experiment elsewhere is still writing shows its progress); read-only."""

    def __init__(self, path: str):
        if not os.path.isdir(path):
            raise TuneError(f"No experiment folder at {path!r}.")
        self.path = os.path.abspath(path)
        self._improvements = _Improvements()

    def _trials(self) -> list[TrialLike]:
        from tunelab.analysis import load_trials

        trials: list[TrialLike] = list(load_trials(self.path))
        return trials

    def title(self) -> str:
        return os.path.basename(self.path.rstrip(os.sep)) or self.path


class Gateway(TrialReader):
    """Reads and writes on one controller's trials for the server; `close()` when the experiment ends."""

    read_only = False

    def __init__(self, controller: Controller, timeout_s: float = 30.0):
        self._controller = controller
        self._timeout_s = timeout_s
        self._closed = False
        self._improvements = _Improvements()

    # -- reads (HTTP thread) -----------------------------------------------------------------------
    def _trials(self) -> list[TrialLike]:
        return list(self._controller.trial_views())

    def _find(self, trial_id: str) -> TrialView:
        view = self._controller.trial_view(trial_id)
        if view is None:
            raise TrialNotFound(trial_id)
        return view

    # -- writes (run by the controller's loop) -----------------------------------------------------
    def add_trials(self, name: str, spec: dict) -> list[dict] | None:
        """Expand `{name: spec}` as the seed did (a new BasicVariantGenerator) and add every trial; a spec of
        more than MAX_TRIALS_PER_ADD trials is refused (counted before anything is expanded)."""
        generator = BasicVariantGenerator()
        generator.add_configurations({name: spec})
        if generator.total_samples > MAX_TRIALS_PER_ADD:
            num_samples = spec.get("num_samples", 1) if isinstance(spec, dict) else 1
            raise TuneError(
                f"The spec of {name!r} expands to {generator.total_samples} trials (num_samples={num_samples!r} "
                f"x {generator.total_samples // max(1, num_samples)} grid points); one request may add at most "
                f"{MAX_TRIALS_PER_ADD}. Lower num_samples or the grid, or add the trials in several requests.")
        trials = generator.next_trials()

        def add() -> list[dict]:
            for trial in trials:
                self._controller.add_trial(trial)
            return [trial_info(self._find(t.trial_id)) for t in trials]

        return self._submit(add)

    def stop_trial(self, trial_id: str) -> dict | None:
        self._find(trial_id)

        def stop() -> dict:
            trial = self._controller.get_trial(trial_id)  # in the loop: the controller's own record
            if trial is None:
                raise TrialNotFound(trial_id)
            self._controller.stop_trial(trial)
            return trial_info(self._find(trial_id))

        return self._submit(stop)

    def _submit(self, fn: Callable[[], Any]) -> Any:
        """Queue `fn` for the loop and wait for it; withdrawn (nothing done) if the loop does not take it.
        For a step-driven controller (`TrialRunner`) it is only queued: None at once, as the seed answered."""
        if self._closed:
            raise ExperimentUnavailable("The experiment has ended; no trial can be added or stopped.")
        command = _Command(fn)
        self._controller.submit(command)
        if self._closed:  # closed while we queued: fail it now rather than after the timeout
            self.close()
        if self._controller.step_driven:  # a TrialRunner runs it at the end of its caller's next step()
            return None
        if not command.done.wait(self._timeout_s):
            if not self._controller.withdraw(command):  # the loop is running it: give it the time to finish
                command.done.wait(self._timeout_s)
            else:
                raise ExperimentUnavailable(
                    f"The experiment did not take the command within {self._timeout_s:g} s; nothing was done.")
        if not command.done.is_set():
            raise ExperimentUnavailable(f"The command is still running after {2 * self._timeout_s:g} s.")
        if command.error is not None:
            raise command.error
        return command.value

    def close(self) -> None:
        """The experiment ended: refuse new writes and fail those still queued (the loop is gone)."""
        self._closed = True
        for command in self._controller.queued_commands():
            if not isinstance(command, _Command) or not self._controller.withdraw(command):
                continue
            command.fail(ExperimentUnavailable("The experiment ended before the command ran; nothing was done."))
