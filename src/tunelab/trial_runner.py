"""Seed path `ray.tune.trial_runner`: `TrialRunner`, tunelab's controller under its 2018 name.

2018 tests and tools drove the runner by hand: `runner = TrialRunner(BasicVariantGenerator())`,
`runner.add_trial(Trial(...))`, then `runner.step()` until `runner.is_finished()`, reading
`runner.get_trials()`. `TrialRunner` is the same `Controller` that `run_experiments` drives, with the
seed's constructor and a `step()` that does exactly one thing, as the seed's did.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from tunelab.controller import Controller
from tunelab.error import TuneError
from tunelab.execution import protocol as P
from tunelab.execution.executor import Event
from tunelab.progress import MAX_DEBUG_TRIALS, status_text
from tunelab.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler
from tunelab.trial import Trial

__all__ = ["TrialRunner"]


class TrialRunner(Controller):
    """`TrialRunner(search_alg=None, scheduler=None, launch_web_server=False, server_port=4321, verbose=True,
    queue_trials=False, trial_executor=None)`, as in 2018.

    Trials run on the process-wide executor (`tunelab.init(num_cpus=..., num_gpus=...)` sizes it, as
    `ray.init` did) and their results are written by the default loggers. `step()` does one action:

    1. take new trials from the search algorithm;
    2. start the trial the scheduler chooses, if its resources are free; otherwise
    3. wait for the next result (or failure) of a running trial and process it; otherwise
    4. raise TuneError when waiting trials can never start (or wait for a throttled search algorithm).

    `step()` after every trial finished raises TuneError. Keywords: `launch_web_server` serves the REST API
    of `tunelab.web_server` on `server_port` (reads answer at once; a write such as `stop_trial` is answered
    at once, 202 Accepted, and done at the end of the next `step()`, as in the seed). `verbose` is accepted and does
    nothing: the runner never prints (`run_experiments(verbose=)` prints the status). As in
    `run_experiments`, `queue_trials` is accepted (trials wait for free resources, a request larger than
    the machine fails when added) and a `trial_executor` raises TuneError (`tunelab.init` chooses the
    executor). As in the seed, a stopped trial's resources are free for the next step, and a failed trial
    that may recover restarts within the step that saw it fail.
    """

    step_driven = True  # the caller steps the loop: server writes are queued, never waited for

    def __init__(
        self,
        search_alg: Any = None,
        scheduler: TrialScheduler | None = None,
        launch_web_server: bool = False,
        server_port: int = 4321,
        verbose: bool = True,
        queue_trials: bool = False,
        trial_executor: Any = None,
    ):
        from tunelab.api import _default_callbacks, get_executor
        from tunelab.options import check_options
        from tunelab.suggest.searcher import to_search_algorithm

        check_options("TrialRunner", {"queue_trials": queue_trials, "trial_executor": trial_executor}, ())
        if scheduler is not None and not isinstance(scheduler, TrialScheduler):
            raise TuneError(f"TrialRunner: scheduler must be a tunelab TrialScheduler, got {scheduler!r}")
        super().__init__(to_search_algorithm(search_alg), scheduler or FIFOScheduler(), get_executor(),
                         _default_callbacks(None))
        self.verbose = verbose
        self._events: deque[Event] = deque()
        self._ended = False
        self.callbacks.setup()
        self.server = None
        if launch_web_server:
            from tunelab.server import TuneServer

            self.server = TuneServer(self, port=server_port)

    def step(self) -> None:
        """Do one thing: start a trial, or process one result, or explain why nothing can happen."""
        if self.is_finished():
            raise TuneError("Called step when all trials finished?")
        self._iteration += 1
        self._fill_trials()
        self._await_stopped_trials()
        chosen = self._schedule(self.scheduler.choose_trial_to_run)  # a view: its trial is ours to start
        trial = None if chosen is None else self.get_trial(chosen.trial_id)
        if (trial is not None and trial.status in (Trial.PENDING, Trial.PAUSED)
                and self.has_resources(trial.resources)):
            self._start(trial)
        elif self._running:
            event = self._next_event()
            failures = event.trial.num_failures
            self._process_event(event)
            self._restart_if_recovering(event.trial, failures)
        elif not self.is_finished():
            self._handle_idle()
        if self.commands:  # the web server's requests, done at the end of the step as the seed's runner did
            self._run_commands()
        if self.is_finished():
            self._end_experiment()

    @property
    def _server(self) -> Any:
        """The seed's name for the web server (`runner._server.shutdown()` in 2018 tests)."""
        return self.server

    def debug_string(self, max_debug: int = MAX_DEBUG_TRIALS) -> str:
        """The seed's `== Status ==` text: scheduler, resources, result folders and trials by state."""
        trials = self.get_trials()
        dirs = sorted({t.local_dir for t in trials if t.local_dir})
        return status_text(trials, self.scheduler.debug_string(), self.executor.resource_summary(), dirs, max_debug)

    def _next_event(self) -> Event:
        """The next event of a running trial, waiting for it (one event per step, as the seed's runner)."""
        while not self._events:
            self._take_events(1.0)
        return self._events.popleft()

    def _restart_if_recovering(self, trial: Trial, failures_before: int) -> None:
        """A trial that just failed and may recover (`max_failures`) starts again from its last checkpoint in
        the same step, as the seed's `restart_trial` did; it waits as PENDING only if its resources are gone."""
        if (trial.num_failures > failures_before and trial.status == Trial.PENDING
                and self.has_resources(trial.resources)):
            self._start(trial)

    def _await_stopped_trials(self) -> None:
        """Wait until the workers of stopped trials have let go of their resources: the seed's `stop_trial`
        freed them at once, so the next `step()` could start a waiting trial in their place."""
        while self.executor.is_stopping():
            self._take_events(0.1)

    def _take_events(self, timeout: float) -> None:
        """Queue the executor's events; a STOPPED one (a stopped trial's resources are free) is applied now
        and is not a step of its own, as stopping was synchronous in the seed."""
        for event in self.executor.get_events(timeout):
            if event.kind == P.STOPPED:
                self._process_event(event)
            else:
                self._events.append(event)

    def _end_experiment(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self.server is not None:
            self.server.shutdown()
        from tunelab.trial_view import TrialView

        self.callbacks.on_experiment_end([TrialView.of(t) for t in self._trials])
