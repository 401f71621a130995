"""The server's view of a running experiment: trial snapshots to read, commands to queue.

Only the controller's loop may change trials. Reads here use the frozen `TrialView`s that the loop
publishes each time it changes a trial, so the HTTP thread never sees a half-changed trial; every write
(add, stop) is wrapped in a `_Command`, submitted to the controller and run by the loop at the start of
its next step, while the HTTP thread waits for the outcome.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.loggers.encoding import dumps_result
from tunelab.suggest.basic_variant import BasicVariantGenerator

if TYPE_CHECKING:
    from tunelab.controller import Controller
    from tunelab.trial_view import TrialView

__all__ = ["MAX_TRIALS_PER_ADD", "ExperimentUnavailable", "Gateway", "TrialNotFound", "trial_info"]

#: the most trials one add request may create: every trial costs the driver memory and the expansion runs
#: while the request waits (num_samples=10**7 would take gigabytes); larger additions take several requests
MAX_TRIALS_PER_ADD = 10_000


class TrialNotFound(TuneError):
    """No trial has the requested id (HTTP 404 in the REST form)."""

    def __init__(self, trial_id: str):
        super().__init__(f"Trial ({trial_id}) not found.")


class ExperimentUnavailable(TuneError):
    """The experiment has ended, or its loop did not take a command in time (HTTP 503)."""


def trial_info(trial: TrialView) -> dict:
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


class Gateway:
    """Reads and writes on one controller's trials for the server; `close()` when the experiment ends."""

    def __init__(self, controller: Controller, timeout_s: float = 30.0):
        self._controller = controller
        self._timeout_s = timeout_s
        self._closed = False

    # -- reads (HTTP thread) -----------------------------------------------------------------------
    def list_trials(self) -> list[dict]:
        return [trial_info(view) for view in self._controller.trial_views()]

    def get_trial(self, trial_id: str) -> dict:
        return trial_info(self._find(trial_id))

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
