"""The controller: one single-threaded event loop that owns every trial's state.

For each result from the executor it does, in order: stop criteria -> scheduler decision -> searcher
notification -> reply to the worker and callbacks (the reply first when the trial simply continues, so
the worker computes while the loggers write; the callbacks first when a checkpoint or a state change
follows). Trial status changes only here.

Schedulers never act on trials: each hook runs against a `DecisionRecorder` (the 2018 runner surface,
read-only) and returns a list of actions (`tunelab.schedulers.actions`), which `_apply` carries out, in
order, in one place. Schedulers never hold a mutable `Trial` either: every trial they are handed (the
event's, `runner.get_trials()`, `restore_state`) is the trial's latest frozen `TrialView` (`_publish`).
"""
from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from tunelab.callback import Callback, CallbackError, CallbackList
from tunelab.error import TuneError
from tunelab.execution import protocol as P
from tunelab.execution.executor import Event, Executor, TrialCallFailed, WorkerDied
from tunelab.metrics import BadMetricError
from tunelab.resources import Resources
from tunelab.result_keys import CONFIG, DONE, TRAINING_ITERATION
from tunelab.schedulers.actions import (
    Action,
    Continue,
    Decision,
    DecisionRecorder,
    Exploit,
    Pause,
    PauseTrial,
    Resume,
    SaveCheckpoint,
    SchedulerRunner,
    SetConfig,
    Stop,
    StopTrial,
    decide,
    decision_of,
)
from tunelab.schedulers.trial_scheduler import TrialScheduler
from tunelab.stopper import Stopper
from tunelab.storage.lines import storage_error
from tunelab.storage.trial_dir import CheckpointKeeper, ensure_logdir, write_error, write_trial_state
from tunelab.suggest.trial_source import TrialSource, result_copy
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trial import Trial
from tunelab.trial_view import TrialView

logger = logging.getLogger(__name__)

_TRIAL_FAILURES = (WorkerDied, TrialCallFailed)
T = TypeVar("T")


class Controller:
    """Runs trials from a search algorithm under a scheduler on an executor until all are finished."""

    #: True for a controller whose caller drives the loop one `step()` at a time (`TrialRunner`): a command
    #: submitted from the server runs at the end of the caller's next step, so nobody may wait for it
    step_driven = False

    def __init__(
        self,
        search_alg: TrialSource,
        scheduler: TrialScheduler,
        executor: Executor,
        callbacks: list[Callback] | None = None,
        stopper: Stopper | None = None,
        max_concurrent_trials: int | None = None,
        time_budget_s: float | None = None,
        status_printer: Callable[["Controller", bool], None] | None = None,
        status_interval_s: float = 5.0,
        state: Any = None,
    ):
        self.search_alg = search_alg
        self.scheduler = scheduler
        self.executor = executor
        self.callbacks = CallbackList(callbacks or [])
        self.stopper = stopper
        self.max_concurrent_trials = max_concurrent_trials
        self.time_budget_s = time_budget_s
        self.commands: deque[Callable[[], Any]] = deque()  # from other threads (server): run in the loop
        self.state = state  # ExperimentState (journal + snapshots), or None
        self._status_printer = status_printer
        self._status_interval_s = status_interval_s
        self._trials: list[Trial] = []
        self._live: dict[str, Trial] = {}
        self._by_id: dict[str, Trial] = {}  # every trial by id (the first, should two share one)
        self._views: dict[str, TrialView] = {}  # published for other threads: rebuilt on every change
        self._all_views = _Views(self._trials, self._views)  # every trial's latest view: what callbacks get
        self._running = 0
        self._keepers: dict[str, CheckpointKeeper] = {}
        self._exploited: set[str] = set()  # trials whose history goes on from a donor's checkpoint
        self._saves: dict[str, tuple[SaveCheckpoint, Checkpoint | None]] = {}  # each trial's last requested save
        self._recorder = DecisionRecorder(self.trial_views, self._live_views, self._views.get, self.has_resources)
        self._iteration = 0
        self._start_time = time.monotonic()
        self._next_status = 0.0
        self._stopped_all = False
        self._last_resources: Resources | None = None
        self._stall_since: float | None = None
        self._changed = True
        self._warned: set[str] = set()

    # -- the experiment's surface (server, TrialRunner users, status) ---------------------------------
    def get_trials(self) -> list[Trial]:
        return self._trials

    def storage_problems(self) -> list[str]:
        """Why the experiment's storage copy is behind (one line per experiment; empty while it is up to date
        or there is no storage): the status output shows them."""
        return self.state.storage_problems() if self.state is not None else []

    def submit(self, command: Callable[[], Any]) -> None:
        """From another thread: run `command` in the loop at its next step, and wake the loop now."""
        self.commands.append(command)
        self.executor.wakeup()

    def withdraw(self, command: Callable[[], Any]) -> bool:
        """From another thread: take back a submitted command the loop has not started; False if it has."""
        try:
            self.commands.remove(command)
        except ValueError:
            return False
        return True

    def queued_commands(self) -> list[Callable[[], Any]]:
        """The submitted commands the loop has not started yet."""
        return list(self.commands)

    def trial_views(self) -> list[TrialView]:
        """From any thread: the latest snapshot of every trial, in the order they were added."""
        views = self._views
        return [view for trial in list(self._trials) if (view := views.get(trial.trial_id)) is not None]

    def trial_view(self, trial_id: str) -> TrialView | None:
        """From any thread: the latest snapshot of one trial, or None if there is no such trial."""
        return self._views.get(trial_id)

    def _publish(self, trial: Trial) -> TrialView:
        """The trial changed: a new snapshot of it for readers in other threads, and for the scheduler hooks
        and callbacks about to hear of it."""
        view = self._views[trial.trial_id] = TrialView.of(trial)
        return view

    def _live_views(self) -> list[TrialView]:
        views = self._views
        return [views[trial_id] for trial_id in self._live]

    def live_trials(self) -> list[Trial]:
        """Trials not yet finished, in the order they were added."""
        return list(self._live.values())

    def get_trial(self, trial_id: str) -> Trial | None:
        return self._by_id.get(trial_id)

    def has_resources(self, resources: Resources) -> bool:
        if self.max_concurrent_trials and self._running >= self.max_concurrent_trials:
            return False
        return self.executor.has_resources(resources)

    def add_trial(self, trial: Trial) -> None:
        """Track a new trial (PENDING); one that can never fit the machine fails at once."""
        self._publish(trial)
        self._trials.append(trial)
        self._by_id.setdefault(trial.trial_id, trial)
        self._live[trial.trial_id] = trial
        self._changed = True
        self._last_resources = trial.resources
        if self.state is not None:
            self.state.on_add(trial)
        problem = self.executor.never_fits(trial.resources)
        if problem:
            write_error(trial, f"TuneError: {problem}")
            self._end(trial, Trial.ERROR)
            self.search_alg.on_trial_complete(trial.trial_id, error=True)
            return
        self._schedule(lambda runner: self.scheduler.on_trial_add(runner, self._publish(trial)))
        if self.state is not None:
            self.state.after_add()

    def restore_trials(self, trials: list[Trial], snapshot: dict | None, finished_since: list,
                       keepers: dict[str, CheckpointKeeper] | None = None) -> None:
        """Take back the trials of a resumed experiment, the scheduler's state from `snapshot` and the
        trials' checkpoint retention as journaled (`keepers`; pruned now, in case a kill came between a
        checkpoint and the deletions it caused)."""
        for trial in trials:
            self._publish(trial)
            self._trials.append(trial)
            self._by_id.setdefault(trial.trial_id, trial)
            if not trial.is_finished():
                self._live[trial.trial_id] = trial
            keeper = (keepers or {}).get(trial.trial_id)
            if keeper is not None:
                self._prune_checkpoints(trial, keeper)
                if not trial.is_finished():
                    self._keepers[trial.trial_id] = keeper
        if snapshot and snapshot.get("scheduler") is not None:
            self.scheduler.restore_state(snapshot["scheduler"], {t.trial_id: self._views[t.trial_id] for t in trials})
        else:
            for trial in list(self._live.values()):
                self._tell_scheduler(trial, "add")
        for trial, status in finished_since:  # finished after the snapshot: tell the algorithms again
            if trial.status != status:
                continue
            if status == Trial.TERMINATED:
                self._tell_scheduler(trial, "complete")
                self.search_alg.on_trial_complete(trial.trial_id, result=result_copy(trial.last_result))
            else:
                self._tell_scheduler(trial, "error")
                self.search_alg.on_trial_complete(trial.trial_id, result=result_copy(trial.last_result), error=True)
        self._changed = True

    def stop_trial(self, trial: Trial) -> None:
        """End a trial for good: a PENDING/PAUSED one is removed, a RUNNING one is stopped now."""
        if trial.is_finished():
            return
        if trial.status == Trial.RUNNING:
            self.executor.stop_trial(trial)
            self._running -= 1
        self._schedule(lambda runner: self.scheduler.on_trial_remove(runner, self._publish(trial)))
        self.search_alg.on_trial_complete(trial.trial_id, result=result_copy(trial.last_result), early_terminated=True)
        if trial.last_result:
            trial.last_result = dict(trial.last_result, done=True)
        self._end(trial, Trial.TERMINATED)
        self.callbacks.on_trial_complete(self._iteration, self._all_views, self._publish(trial))

    # -- scheduler decisions: asked through a recorder, applied here --------------------------------
    def _schedule(self, hook: Callable[[SchedulerRunner], T]) -> T:
        """Run one scheduler hook (no trial is reporting) and apply the actions it asked for."""
        value, actions = decide(self._recorder, hook)
        self._apply(actions, current=None)
        return value

    def _tell_scheduler(self, trial: Trial, event: str) -> None:
        """A resumed trial's "add", "complete" or "error" event, with the scheduler's actions applied."""
        def hook(runner: SchedulerRunner) -> None:
            if event == "add":
                self.scheduler.on_trial_add(runner, self._publish(trial))
            elif event == "complete":
                self.scheduler.on_trial_complete(runner, self._publish(trial), trial.last_result)
            else:
                self.scheduler.on_trial_error(runner, self._publish(trial))
        self._schedule(hook)

    def _apply(self, actions: list[Action], current: Trial | None) -> Exploit | None:
        """Carry out a scheduler's actions in order. Requests about `current` that change its decision
        (StopTrial, PauseTrial) were folded into it by `_decide`; its Exploit is returned for
        `_apply_decision`."""
        own_exploit = None
        for action in actions:
            if isinstance(action, (Continue, Pause, Stop)):
                continue
            trial = self.get_trial(action.trial_id)
            if trial is None:
                raise TuneError(f"{type(self.scheduler).__name__} asked {action} of a trial this experiment does not have")
            if isinstance(action, StopTrial):
                if trial is not current:
                    self.stop_trial(trial)
            elif isinstance(action, PauseTrial):
                if trial is current:
                    continue
                if trial.status == Trial.PENDING:
                    trial.status = Trial.PAUSED
                    self._journal_status(trial)
                    self._changed = True
                elif trial.status == Trial.RUNNING:
                    raise TuneError(f"pause_trial({trial}): only the trial whose result is being processed can be "
                                    "paused; return PAUSE from on_trial_result instead")
            elif isinstance(action, Resume):
                if trial.status == Trial.PAUSED:
                    trial.status = Trial.PENDING
                    self._changed = True
                    self._journal_status(trial)
            elif isinstance(action, SaveCheckpoint):
                if trial is current:
                    self._save(trial)
                self._saves[trial.trial_id] = (action, trial.checkpoint)
            elif isinstance(action, SetConfig):
                trial.config = action.config
                self._publish(trial)
            elif isinstance(action, Exploit):
                exploit = self._resolve(action)
                if exploit is None:
                    continue
                if trial is current:
                    own_exploit = exploit
                else:
                    assert isinstance(exploit.checkpoint, Checkpoint)  # made concrete by _resolve
                    trial.config, trial.experiment_tag, trial.checkpoint = exploit.new_config, exploit.new_tag, exploit.checkpoint
                    self._on_exploited(trial, exploit.checkpoint)
        return own_exploit

    def _resolve(self, exploit: Exploit) -> Exploit | None:
        """The exploit with its checkpoint made concrete (a `SaveCheckpoint` request names what it saved),
        or None when the donor's save produced no checkpoint: the trial then goes on as it is."""
        source = exploit.checkpoint
        if not isinstance(source, SaveCheckpoint):
            return exploit
        request, saved = self._saves.get(source.trial_id, (None, None))
        if request is not source or saved is None:
            logger.warning("%s: not exploiting trial %s: the donor's checkpoint request %s saved no checkpoint",
                           type(self.scheduler).__name__, exploit.trial_id, source)
            return None
        return Exploit(exploit.trial_id, exploit.new_config, exploit.new_tag, saved)

    def _on_exploited(self, trial: Trial, checkpoint: Checkpoint) -> None:
        self._publish(trial)
        self._exploited.add(trial.trial_id)
        self._changed = True
        if self.state is not None:
            self.state.on_exploit(trial, checkpoint)

    def is_finished(self) -> bool:
        return not self._live and (self._stopped_all or self.search_alg.is_finished())

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> list[Trial]:
        failed = True
        try:
            self.callbacks.setup()
            while not self.is_finished():
                self.step()
            failed = False
        except (CallbackError, OSError) as exc:
            self._abort()
            cause = exc.__cause__ if isinstance(exc, CallbackError) else exc
            if isinstance(cause, TuneError):  # a logger's own clear error (a full disk, say)
                raise TuneError(str(cause)) from (cause.__cause__ or cause)
            if isinstance(cause, OSError) and cause.filename:
                raise storage_error(cause, str(cause.filename)) from exc
            raise TuneError(
                f"The experiment stopped on a driver-side error: {exc}. Running trials were stopped and the "
                "experiment state is saved: fix the cause and run it again with resume=True to continue."
            ) from exc
        except BaseException:
            self._abort()
            raise
        finally:
            self._print_status(final=True)
            self._finish(failed)
        return self._trials

    def _finish(self, failed: bool) -> None:
        """Save the final snapshot, release the journal and lock, and end the callbacks: each always. After
        an error a failure here (the same full disk, say) is only logged, so the first error is the one the
        user sees; otherwise the first failure is raised."""
        first: Exception | None = None
        steps = [("saving the final experiment snapshot", self.state.close if self.state is not None else None),
                 ("closing the result loggers", lambda: self.callbacks.on_experiment_end(self._all_views)),
                 ("copying the experiment to storage", self.state.finish_storage if self.state is not None else None),
                 # no worker is left computing a stopped trial when run() returns
                 ("stopping workers of stopped trials", self.executor.settle)]
        for what, action in steps:
            if action is None:
                continue
            try:
                action()
            except Exception as exc:
                if failed or first is not None:
                    logger.warning("%s failed too: %s", what, exc)
                else:
                    first = exc
        if first is not None:
            raise first

    def step(self) -> None:
        """Refill trials, start what fits, then process the next batch of executor events."""
        if self.is_finished():
            raise TuneError("step() called but every trial has finished")
        if self._running == 0:
            self._changed = True
        self._iteration += 1
        if self.commands:
            self._run_commands()
        self._check_global_stop()
        started = 0
        while self._changed:  # only a finished, paused or added trial can let another one start
            self._changed = False
            self._fill_trials()
            started += self._start_trials()
        timeout = 0.0 if started else self._wait_timeout()
        for event in self.executor.get_events(timeout):
            self._process_event(event)
        if self._running == 0 and not self.is_finished():
            self._fill_trials()
            if not self._start_trials():
                self._handle_idle()
        else:
            self._stall_since = None
        if self._status_printer is not None and time.monotonic() >= self._next_status:
            self._print_status(final=False)
        if self.state is not None:
            self.state.tick()

    def _wait_timeout(self) -> float:
        if self._status_printer is None:
            return 1.0
        return max(0.0, min(1.0, self._next_status - time.monotonic()))

    def _fill_trials(self) -> None:
        if self._stopped_all:
            return
        pending = sum(1 for t in self._live.values() if t.status == Trial.PENDING)
        # trials are made just in time (a searcher learns from every result before suggesting), unless the
        # scheduler must see them all up front (HyperBand fills its brackets with them)
        want = float("inf") if self.scheduler.wants_all_trials else max(1, self._free_slots())
        while pending < want and not self.search_alg.is_finished():
            trial = self.search_alg.next_trial()
            if trial is None:
                break
            self.add_trial(trial)
            if trial.status == Trial.PENDING:
                pending += 1

    def _free_slots(self) -> int:
        resources = self._last_resources
        free_cpu = self.executor.free_cpu()
        if resources is None or free_cpu is None or resources.cpu_total() <= 0:
            return 1
        slots = int((free_cpu + 1e-9) // resources.cpu_total())
        if self.max_concurrent_trials:
            slots = min(slots, self.max_concurrent_trials - self._running)
        return slots

    def _start_trials(self) -> int:
        started = 0
        while True:
            chosen = self._schedule(self.scheduler.choose_trial_to_run)
            trial = None if chosen is None else self.get_trial(chosen.trial_id)
            if trial is None or trial.status not in (Trial.PENDING, Trial.PAUSED):
                return started
            if not self.has_resources(trial.resources):
                return started
            self._start(trial)
            started += 1

    def _start(self, trial: Trial) -> None:
        ensure_logdir(trial)
        restore = trial.checkpoint.path if trial.checkpoint is not None else None
        self._forget_unsaved_results(trial, restore)
        trial.status = Trial.RUNNING
        self._journal_status(trial)
        self._running += 1
        if trial.start_time is None:
            trial.start_time = time.time()
        try:
            self.executor.start_trial(trial, restore)
        except WorkerDied as exc:
            self._on_failure(trial, str(exc))
            return
        self.callbacks.on_trial_start(self._iteration, self._all_views, self._publish(trial))

    def _forget_unsaved_results(self, trial: Trial, restore: str | None) -> None:
        """A trial restarting from an older checkpoint (or from scratch) will report those iterations
        again: loggers drop what they logged after the checkpoint, so the history has no duplicates."""
        logged = trial.last_result.get(TRAINING_ITERATION) if trial.last_result else None
        if not logged or trial.trial_id in self._exploited:
            self._exploited.discard(trial.trial_id)
            return
        iteration = _checkpoint_iteration(restore) if restore else 0
        if iteration < logged:
            self.callbacks.on_trial_restore(self._publish(trial), iteration)

    def _journal_status(self, trial: Trial) -> None:
        self._publish(trial)
        if self.state is not None:
            self.state.on_status(trial)
        write_trial_state(trial)

    def _process_event(self, event: Event) -> None:
        trial = event.trial
        if event.kind == P.STOPPED:  # a stopped trial's worker and resources are free: another trial may start
            self._changed = True
            return
        if trial.status != Trial.RUNNING:
            return
        if event.kind == P.RESULT:
            result, checkpoint_path = event.payload
            result[CONFIG] = trial.config
            self._on_result(trial, result, checkpoint_path)
        elif event.kind == P.FINISHED:
            self._on_finished(trial)
        elif event.kind == P.ERROR:
            self._on_failure(trial, event.payload[0], released=True)

    def _on_result(self, trial: Trial, result: dict, checkpoint_path: str | None) -> None:
        try:
            try:
                decision, actions = self._decide(trial, result)
            except BadMetricError as exc:  # this trial's result is unusable: it fails, the others go on
                trial.update_last_result(result)
                self._on_failure(trial, f"BadMetricError: {exc}", retry=False)
                return
            except TuneError:
                trial.update_last_result(result)
                raise
            exploit = self._apply(actions, current=trial)
            trial.update_last_result(result, terminate=isinstance(decision, Stop))
            self._publish(trial)
            plain = (isinstance(decision, Continue) and checkpoint_path is None and exploit is None
                     and not trial.should_checkpoint())
            if plain:
                try:  # reply first: the worker computes its next step while the loggers write
                    self.executor.continue_trial(trial)
                finally:
                    self.callbacks.on_trial_result(self._iteration, self._all_views, self._views[trial.trial_id], result)
            else:  # the result is on disk before any checkpoint of it is recorded
                self.callbacks.on_trial_result(self._iteration, self._all_views, self._views[trial.trial_id], result)
                if checkpoint_path:
                    self._register_checkpoint(trial, checkpoint_path, result)
                self._apply_decision(trial, decision, exploit)
        except _TRIAL_FAILURES as exc:
            self._on_failure(trial, str(exc))

    def _decide(self, trial: Trial, result: dict) -> tuple[Decision, list[Action]]:
        """Stop criteria, then the scheduler's decision, then the searcher hears of the result. Returns the
        decision for `trial` (a StopTrial or PauseTrial of it folded in) and the scheduler's other actions."""
        if self._should_stop(trial, result):
            _, actions = decide(self._recorder,
                                lambda runner: self.scheduler.on_trial_complete(runner, self._publish(trial), result))
            self.search_alg.on_trial_complete(trial.trial_id, result=result_copy(result))
            return Stop(), actions
        value, actions = decide(self._recorder,
                                lambda runner: self.scheduler.on_trial_result(runner, self._publish(trial), result))
        self.search_alg.on_trial_result(trial.trial_id, dict(result))
        decision = decision_of(value)
        if decision is None:
            raise TuneError(f"{type(self.scheduler).__name__}.on_trial_result returned {value!r}; "
                            "allowed: CONTINUE, PAUSE, STOP")
        about_trial = {type(a) for a in actions if isinstance(a, (StopTrial, PauseTrial)) and a.trial_id == trial.trial_id}
        if StopTrial in about_trial or isinstance(decision, Stop):
            self.search_alg.on_trial_complete(trial.trial_id, result=result_copy(result), early_terminated=True)
            decision = Stop()
        elif PauseTrial in about_trial:
            decision = Pause()
        return decision, actions

    @staticmethod
    def _should_stop(trial: Trial, result: dict) -> bool:
        """The trial's stop criteria on `result`; a stop function that raises stops the experiment with a
        TuneError (its state stays resumable, and a resume uses the stop criteria passed to it)."""
        try:
            return trial.should_stop(result)
        except TuneError:
            raise
        except Exception as exc:
            raise TuneError(
                f"The stop criteria of trial {trial} raised {exc!r} on its result at training_iteration "
                f"{result.get(TRAINING_ITERATION)}. The experiment state is saved: fix the stop function and "
                "run again with resume=True and the fixed stop=."
            ) from exc

    def _apply_decision(self, trial: Trial, decision: Decision, exploit: Exploit | None) -> None:
        """Carry out the reporting trial's decision (after its exploit, if the scheduler asked one)."""
        if exploit is not None:
            new_config, new_tag, checkpoint = exploit.new_config, exploit.new_tag, exploit.checkpoint
            assert isinstance(checkpoint, Checkpoint)  # resolved by _apply
            trial.config, trial.experiment_tag = new_config, new_tag
            self._on_exploited(trial, checkpoint)
            continues = isinstance(decision, Continue)
            if continues and self.executor.reset_trial(trial, new_config):
                assert checkpoint.path is not None  # a trial's checkpoints are folders (Checkpoint.from_directory)
                self.executor.restore_trial(trial, checkpoint.path)
                trial.checkpoint = checkpoint
                self._publish(trial)
                self.executor.continue_trial(trial)
                return
            trial.checkpoint = checkpoint
            self._release(trial, Trial.PENDING if continues else Trial.PAUSED)
            return
        if isinstance(decision, Continue):
            if trial.should_checkpoint():
                self._save(trial)
            self.executor.continue_trial(trial)
        elif isinstance(decision, Pause):
            self._save(trial)
            if trial.checkpoint is None:
                self._warn_once(trial.trainable_name, (
                    f"{type(self.scheduler).__name__} paused trial {trial}, which has no checkpoint: it will "
                    "start again from scratch when resumed. Report checkpoints from the trainable "
                    "(tune.report(..., checkpoint=tune.Checkpoint.from_dict(...))) so paused trials continue."))
            self._release(trial, Trial.PAUSED)
        else:
            if trial.checkpoint_at_end:
                self._save(trial)
            self._release(trial, Trial.TERMINATED)
            self.callbacks.on_trial_complete(self._iteration, self._all_views, self._publish(trial))

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            import warnings

            warnings.warn(message, RuntimeWarning, stacklevel=2)
            logger.warning(message)

    def _release(self, trial: Trial, status: str) -> None:
        self.executor.stop_trial(trial)
        self._running -= 1
        self._changed = True
        if status in (Trial.TERMINATED, Trial.ERROR):
            self._end(trial, status)
        else:
            trial.status = status
            self._journal_status(trial)

    def _end(self, trial: Trial, status: str) -> None:
        self._changed = True
        trial.status = status
        self._journal_status(trial)
        self._live.pop(trial.trial_id, None)
        self._saves.pop(trial.trial_id, None)
        keeper = self._keepers.pop(trial.trial_id, None)
        if keeper is not None and keeper.keep is not None and status == Trial.TERMINATED:
            trial.best_checkpoint = keeper.best()

    def _on_finished(self, trial: Trial) -> None:
        result = dict(trial.last_result, done=True) if trial.last_result else {DONE: True}
        trial.last_result = result
        try:
            _, actions = decide(self._recorder,
                                lambda runner: self.scheduler.on_trial_complete(runner, self._publish(trial), result))
            self.search_alg.on_trial_complete(trial.trial_id, result=result_copy(result))
        except BadMetricError as exc:
            self._on_failure(trial, f"BadMetricError: {exc}", released=True, retry=False)
            return
        self._running -= 1
        self._end(trial, Trial.TERMINATED)
        self.callbacks.on_trial_complete(self._iteration, self._all_views, self._publish(trial))
        self._apply(actions, current=None)

    def _on_failure(self, trial: Trial, text: str, released: bool = False, retry: bool = True) -> None:
        """The trial failed: write the error, then rerun it (up to `max_failures`, and only if `retry`:
        a deterministic fault such as a non-numeric metric would fail again) or end it as ERROR."""
        trial.num_failures += 1
        self._changed = True
        write_error(trial, text)
        if trial.status == Trial.RUNNING:
            if not released:
                self.executor.stop_trial(trial)
            self._running -= 1
        if retry and trial.num_failures <= trial.max_failures:
            trial.status = Trial.PENDING
            self._journal_status(trial)
            self.callbacks.on_trial_recover(self._iteration, self._all_views, self._publish(trial))
            return
        _, actions = decide(self._recorder, lambda runner: self.scheduler.on_trial_error(runner, self._publish(trial)))
        self.search_alg.on_trial_complete(trial.trial_id, result=result_copy(trial.last_result), error=True)
        self._end(trial, Trial.ERROR)
        self.callbacks.on_trial_error(self._iteration, self._all_views, self._publish(trial))
        self._apply(actions, current=None)

    def _save(self, trial: Trial) -> None:
        path = self.executor.save_trial(trial)
        if path:
            self._register_checkpoint(trial, path, trial.last_result)

    def _register_checkpoint(self, trial: Trial, path: str, result: dict) -> None:
        trial.checkpoint = Checkpoint.from_directory(path)
        self._publish(trial)
        keeper = self._keepers.get(trial.trial_id)
        if keeper is None:
            keeper = self._keepers[trial.trial_id] = CheckpointKeeper(trial.keep_checkpoints_num, trial.checkpoint_score_attr)
        score = keeper.score(result)
        keeper.add(path, score)
        if self.state is not None:  # journaled before any older checkpoint is deleted
            self.state.on_checkpoint(trial, path, score)
        self._prune_checkpoints(trial, keeper)
        self.callbacks.on_checkpoint(self._iteration, self._all_views, self._publish(trial), trial.checkpoint)

    def _prune_checkpoints(self, trial: Trial, keeper: CheckpointKeeper) -> None:
        """Delete the checkpoints `keep_checkpoints_num` no longer keeps, and journal the deletions."""
        deleted = keeper.prune()
        if deleted and self.state is not None:
            self.state.on_checkpoints_deleted(trial, deleted)

    # -- experiment-wide events --------------------------------------------------------------------
    def _run_commands(self) -> None:
        while self.commands:
            self.commands.popleft()()

    def _check_global_stop(self) -> None:
        if self._stopped_all:
            return
        over_budget = self.time_budget_s is not None and time.monotonic() - self._start_time >= self.time_budget_s
        if over_budget or (self.stopper is not None and self.stopper.stop_all()):
            self.stop_all()

    def stop_all(self) -> None:
        """Stop every trial and ask for no new ones (time budget, `Stopper.stop_all`)."""
        self._stopped_all = True
        for trial in self.live_trials():
            self.stop_trial(trial)

    def _handle_idle(self) -> None:
        """Nothing runs and nothing could start: wait for a throttled searcher, or explain the deadlock."""
        waiting = [t for t in self._live.values() if t.status in (Trial.PENDING, Trial.PAUSED)]
        if waiting and self.executor.is_stopping():
            return  # a stopped trial's worker still holds its resources: its STOPPED event will free them
        lost = self.executor.lost_capacity() if waiting else None
        if lost is not None:  # the cluster shrank: the waiting trials wait for nodes, not a deadlock
            self._warn_once("lost_capacity", f"{len(waiting)} trial(s) wait {waiting[0].status}: {lost}.")
            return
        if waiting:
            raise TuneError(
                f"{len(waiting)} trial(s) are {waiting[0].status} but none can start: the scheduler "
                f"{type(self.scheduler).__name__} chose none (resources: {self.executor.resource_summary()}). "
                f"First waiting trial: {waiting[0]} requesting {waiting[0].resources.summary()}."
            )
        now = time.monotonic()
        if self._stall_since is None:
            self._stall_since = now
        if now - self._stall_since > 600:
            raise TuneError("The search algorithm produced no trial for 600 s while nothing was running.")
        time.sleep(0.01)

    def _abort(self) -> None:
        """Stop every running trial's worker (on an error or Ctrl-C); trial states stay as they were."""
        for trial in list(self._live.values()):
            if trial.status == Trial.RUNNING:
                try:
                    self.executor.stop_trial(trial)
                except Exception:
                    logger.debug("could not stop %s", trial, exc_info=True)

    def _print_status(self, final: bool) -> None:
        if self._status_printer is None:
            return
        self._next_status = time.monotonic() + self._status_interval_s
        self._status_printer(self, final)


def _checkpoint_iteration(path: str) -> int:
    """The iteration a checkpoint was taken at: from its metadata when it is on this machine, else from its
    folder name (`checkpoint_<iteration>`; with storage, it may be on another node or in storage only)."""
    from tunelab.trainable.checkpoint import checkpoint_dir_iteration
    from tunelab.trainable.trainable import read_checkpoint_metadata

    if os.path.isdir(path):
        iteration = read_checkpoint_metadata(path).get("iteration")
        if iteration is not None:
            return int(iteration)
    return checkpoint_dir_iteration(path) or 0


class _Views(Sequence[TrialView]):
    """The published views of `trials`, read when indexed: handing it to a callback costs nothing, whatever the
    number of trials (callbacks see frozen views, never the controller's mutable trials)."""

    __slots__ = ("_trials", "_views")

    def __init__(self, trials: list[Trial], views: dict[str, TrialView]):
        self._trials, self._views = trials, views

    def __len__(self) -> int:
        return len(self._trials)

    @overload
    def __getitem__(self, index: int) -> TrialView: ...

    @overload
    def __getitem__(self, index: slice) -> list[TrialView]: ...

    def __getitem__(self, index: int | slice) -> TrialView | list[TrialView]:
        if isinstance(index, slice):
            return [self._views[t.trial_id] for t in self._trials[index]]
        return self._views[self._trials[index].trial_id]
