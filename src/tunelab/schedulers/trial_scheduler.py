"""The scheduler contract: what the controller asks a scheduler, and the three decisions it may give."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError

if TYPE_CHECKING:
    from tunelab.trial import Trial


class TrialScheduler:
    """Decides, for each result, whether a trial goes on (CONTINUE), frees its resources and may come
    back later from its checkpoint (PAUSE) or ends for good (STOP); and which trial runs next.

    Implementations are pure: no processes, files or clocks. The `runner` passed to each hook offers
    `get_trials()`, `has_resources(resources)`, `stop_trial(trial)` and `trial_executor.pause_trial(trial)`,
    `unpause_trial(trial)`, `stop_trial(trial)`.
    """

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"
    STOP = "STOP"

    #: set by schedulers that PAUSE trials and so need trainables that can checkpoint
    needs_checkpoints = False

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        """Take the experiment-wide metric/mode if the scheduler was built without them."""
        return True

    def on_trial_add(self, runner: Any, trial: "Trial") -> None:
        """A new trial was added (PENDING)."""

    def on_trial_error(self, runner: Any, trial: "Trial") -> None:
        """The trial failed for good; it will not report again."""

    def on_trial_result(self, runner: Any, trial: "Trial", result: dict) -> str:
        """A RUNNING trial reported `result`; return CONTINUE, PAUSE or STOP."""
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, runner: Any, trial: "Trial", result: dict) -> None:
        """The trial finished normally (done or a stop criterion) with final `result`."""

    def on_trial_remove(self, runner: Any, trial: "Trial") -> None:
        """A PENDING or PAUSED trial was removed (stopped) without finishing."""

    def choose_trial_to_run(self, runner: Any) -> "Trial | None":
        """Return a PENDING or PAUSED trial whose resources are free, or None. Must be idempotent.

        The default is first-in first-out: the first PENDING trial that fits, else the first PAUSED one.
        """
        from tunelab.trial import Trial

        trials = runner.live_trials() if hasattr(runner, "live_trials") else runner.get_trials()
        paused = None
        for trial in trials:
            if trial.status == Trial.PENDING:
                if runner.has_resources(trial.resources):
                    return trial
            elif paused is None and trial.status == Trial.PAUSED and runner.has_resources(trial.resources):
                paused = trial
        return paused

    def debug_string(self) -> str:
        return ""

    # helpers shared by implementations --------------------------------------------------------------
    @staticmethod
    def _resolve_mode(mode: str | None) -> str | None:
        if mode not in (None, "min", "max"):
            raise TuneError(f"mode must be 'min' or 'max', got {mode!r}")
        return mode


class FIFOScheduler(TrialScheduler):
    """Runs trials in the order they were added; never stops or pauses one early."""

    def debug_string(self) -> str:
        return "Using FIFO scheduling algorithm."
