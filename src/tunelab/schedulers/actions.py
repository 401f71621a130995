"""Decisions as data: what a scheduler asks for, as frozen values that only the controller applies.

A scheduler hook answers an event (a result, a trial added, finished, failed or removed, a free slot)
with a list of actions. For the reporting trial the decision is `Continue`, `Pause` or `Stop`; for any
trial the scheduler may ask `StopTrial`, `PauseTrial`, `Resume`, `SaveCheckpoint` or `Exploit`. The
controller applies the list, in order, in one place (`Controller._apply`).

Schedulers keep the 2018 hook signatures (`on_trial_result(runner, trial, result) -> CONTINUE/PAUSE/STOP`,
`runner.stop_trial(trial)`, `runner.trial_executor.unpause_trial(trial)`, ...): the `runner` the
controller passes them is a `DecisionRecorder`, which answers the read-only questions (the trials, free
resources) and turns every request into an action instead of doing it. Inside an experiment every trial a
scheduler is handed (the event's trial, `runner.get_trials()`) is a frozen `TrialView`; `latest(runner,
trial)` is that trial as it is now. Schedulers key what they remember by `trial_id`. `decide()` runs one hook that way
and returns its actions, so a scheduler is, seen from the controller, a function from the trials and an
event to a list of actions. A hand-made 2018 runner (user code, tests) still gets the requests as calls.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from tunelab.resources import Resources
    from tunelab.trainable.checkpoint import Checkpoint
    from tunelab.trial import Trial
    from tunelab.trial_view import TrialLike, TrialView


# -- the decision for the reporting trial ----------------------------------------------------------------
@dataclass(frozen=True)
class Continue:
    """The reporting trial goes on."""


@dataclass(frozen=True)
class Pause:
    """The reporting trial is checkpointed and frees its resources; it may be chosen to run again."""


@dataclass(frozen=True)
class Stop:
    """The reporting trial ends for good."""


Decision = Continue | Pause | Stop


# -- requests about any trial ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StopTrial:
    """End a trial for good: a PENDING or PAUSED one is removed, a RUNNING one stopped (the reporting
    trial: its decision becomes Stop)."""

    trial_id: str


@dataclass(frozen=True)
class PauseTrial:
    """Pause a PENDING trial, or the reporting trial (its decision becomes Pause)."""

    trial_id: str


@dataclass(frozen=True)
class Resume:
    """A PAUSED trial may run again (from its checkpoint) when the scheduler chooses it."""

    trial_id: str


@dataclass(frozen=True, eq=False)
class SaveCheckpoint:
    """Checkpoint the reporting trial now. The action itself names the checkpoint it will produce: pass
    it as `Exploit.checkpoint` to restore another trial from it (eq=False: each request is its own)."""

    trial_id: str


@dataclass(frozen=True)
class Exploit:
    """Make a trial continue from `checkpoint` (a `Checkpoint`, or the `SaveCheckpoint` request that
    produces it) with `new_config` and `new_tag` (PBT's exploit and explore)."""

    trial_id: str
    new_config: dict = field(hash=False)
    new_tag: str
    checkpoint: "Checkpoint | SaveCheckpoint" = field(hash=False)


@dataclass(frozen=True)
class SetConfig:
    """Give a trial a new config before it runs further (PBT samples the mutated keys a config lacks when
    the trial is added); its tag, checkpoint and history stay."""

    trial_id: str
    config: dict = field(hash=False)


Action = Continue | Pause | Stop | StopTrial | PauseTrial | Resume | SaveCheckpoint | Exploit | SetConfig

_DECISIONS: dict[str, Decision] = {"CONTINUE": Continue(), "PAUSE": Pause(), "STOP": Stop()}


def decision_of(value: str) -> Decision | None:
    """The decision for a 2018 `CONTINUE`/`PAUSE`/`STOP` string, or None for anything else."""
    return _DECISIONS.get(value) if isinstance(value, str) else None


# -- the 2018 runner, as schedulers see it -----------------------------------------------------------------
class TrialExecutorLike(Protocol):
    """`runner.trial_executor` as 2018 schedulers use it."""

    def pause_trial(self, trial: "TrialLike") -> None: ...

    def unpause_trial(self, trial: "TrialLike") -> None: ...

    def stop_trial(self, trial: "TrialLike") -> None: ...


class SchedulerRunner(Protocol):
    """The `runner` argument of every scheduler hook: the 2018 runner surface, plus PBT's
    `checkpoint_trial` / `exploit_trial`. The controller passes a `DecisionRecorder`; user code may pass
    any object of this shape."""

    @property
    def trial_executor(self) -> TrialExecutorLike: ...

    def get_trials(self) -> "list[TrialLike]": ...

    def has_resources(self, resources: "Resources") -> bool: ...

    def stop_trial(self, trial: "TrialLike") -> None: ...

    def checkpoint_trial(self, trial: "TrialLike") -> "Checkpoint | SaveCheckpoint | None": ...

    def exploit_trial(self, trial: "TrialLike", new_config: dict, new_tag: str,
                      checkpoint: "Checkpoint | SaveCheckpoint") -> None: ...


class _RecordingTrialExecutor:
    """`runner.trial_executor` of a `DecisionRecorder`: requests become actions."""

    def __init__(self, actions: list[Action], has_resources: Callable[["Resources"], bool]):
        self._actions = actions
        self.has_resources = has_resources

    def pause_trial(self, trial: "TrialLike") -> None:
        self._actions.append(PauseTrial(trial.trial_id))

    def unpause_trial(self, trial: "TrialLike") -> None:
        self._actions.append(Resume(trial.trial_id))

    def stop_trial(self, trial: "TrialLike", error: bool = False, error_msg: str | None = None) -> None:
        self._actions.append(StopTrial(trial.trial_id))


class DecisionRecorder:
    """The runner a scheduler sees inside the controller: it reads the trials (as frozen `TrialView`s) and
    asks about free resources, and records every request as an action, naming its trial by `trial_id`;
    nothing is done until the controller applies them.

    `trials` returns the latest view of every trial, `live` of the unfinished ones, `view_of` of one trial
    by id (None if unknown); `has_resources` answers whether a request fits now.
    """

    def __init__(self, trials: Callable[[], list["TrialView"]], live: Callable[[], list["TrialView"]],
                 view_of: Callable[[str], "TrialView | None"], has_resources: Callable[["Resources"], bool]):
        self._trials = trials
        self._live = live
        self.view_of = view_of
        self.actions: list[Action] = []
        self.has_resources = has_resources
        self.trial_executor = _RecordingTrialExecutor(self.actions, has_resources)

    def get_trials(self) -> "list[TrialLike]":
        return list(self._trials())

    def live_trials(self) -> "list[TrialLike]":
        return list(self._live())

    def stop_trial(self, trial: "TrialLike") -> None:
        self.actions.append(StopTrial(trial.trial_id))

    def checkpoint_trial(self, trial: "TrialLike") -> "SaveCheckpoint":
        action = SaveCheckpoint(trial.trial_id)
        self.actions.append(action)
        return action

    def exploit_trial(self, trial: "TrialLike", new_config: dict, new_tag: str,
                      checkpoint: "Checkpoint | SaveCheckpoint") -> None:
        self.actions.append(Exploit(trial.trial_id, new_config, new_tag, checkpoint))

    def set_config(self, trial: "TrialLike", config: dict) -> None:
        self.actions.append(SetConfig(trial.trial_id, config))

    def take(self) -> list[Action]:
        """The actions recorded so far, in order; the recorder starts empty again."""
        if not self.actions:  # the usual case: a plain CONTINUE
            return []
        taken = list(self.actions)
        self.actions.clear()
        return taken


T = TypeVar("T")


def latest(runner: SchedulerRunner | None, trial: "TrialLike") -> "TrialLike":
    """`trial` as it is now, for a scheduler that remembers trials between hooks. The controller's
    recorder hands out frozen views, so a remembered one may be old: its newest view is returned. Any other
    runner (or none) works on live `Trial`s, which are always current: `trial` itself is returned."""
    if isinstance(runner, DecisionRecorder):
        view = runner.view_of(trial.trial_id)
        return trial if view is None else view
    return trial


def decide(recorder: DecisionRecorder, hook: Callable[[SchedulerRunner], T]) -> tuple[T, list[Action]]:
    """Run one scheduler hook against `recorder`: its return value and the actions it asked for."""
    recorder.take()
    value = hook(recorder)
    return value, recorder.take()


# -- a hand-made 2018 runner, completed ------------------------------------------------------------------
_RUNNER_CAPABILITIES = ("trial_executor", "checkpoint_trial", "exploit_trial")


class _HandDrivenTrialExecutor:
    """`trial_executor` for a 2018 runner that has none: each request is carried out on the trial itself,
    with the hand-driven lifecycle of `Trial` (as the seed's runners did; no process is touched)."""

    def pause_trial(self, trial: "Trial") -> None:
        trial.pause()

    def unpause_trial(self, trial: "Trial") -> None:
        trial.unpause()

    def stop_trial(self, trial: "Trial") -> None:
        trial.stop()


class _HandDrivenRunner:
    """A 2018 runner plus the `SchedulerRunner` requests it lacks, carried out on the trials directly:
    its own methods (and attributes) are used wherever it has them."""

    def __init__(self, runner: object):
        self._runner = runner
        self.trial_executor = getattr(runner, "trial_executor", None) or _HandDrivenTrialExecutor()

    def __getattr__(self, name: str) -> object:
        return getattr(self._runner, name)

    def checkpoint_trial(self, trial: "Trial") -> "Checkpoint | None":
        """The trial's checkpoint now: the seed's `trial.checkpoint(to_object_store=True)` where the trial
        (a 2018 test double) makes one on demand, else the latest one it saved."""
        own = getattr(self._runner, "checkpoint_trial", None)
        if own is not None:
            return own(trial)
        checkpoint = trial.checkpoint
        return checkpoint(to_object_store=True) if callable(checkpoint) else checkpoint

    def exploit_trial(self, trial: "Trial", new_config: dict, new_tag: str,
                      checkpoint: "Checkpoint | SaveCheckpoint") -> None:
        """The seed's exploit: stop the trial, give it the new config and tag, start it from `checkpoint`."""
        own = getattr(self._runner, "exploit_trial", None)
        if own is not None:
            own(trial, new_config, new_tag, checkpoint)
            return
        assert not isinstance(checkpoint, SaveCheckpoint)  # only a DecisionRecorder hands out save requests
        trial.stop(stop_logger=False)
        trial.config = new_config
        trial.experiment_tag = new_tag
        trial.start(checkpoint)


def as_scheduler_runner(runner: Any) -> SchedulerRunner:
    """The `runner` a scheduler hook received, with every `SchedulerRunner` request available.

    The controller's `DecisionRecorder` (and any runner with all of them) is returned as is; a hand-made
    2018 runner without `trial_executor`, `checkpoint_trial` or `exploit_trial` (the seed's scheduler tests
    drive schedulers that way) gets them done on the trials themselves. Built-in schedulers call this once
    at the entry of a hook that makes such requests, so they never check the runner's shape themselves.
    """
    if isinstance(runner, DecisionRecorder) or runner is None or all(
            hasattr(runner, name) for name in _RUNNER_CAPABILITIES):
        return runner
    return _HandDrivenRunner(runner)  # type: ignore[return-value]
