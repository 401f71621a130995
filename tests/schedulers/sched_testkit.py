"""A stand-in for the controller, as schedulers see it, for scheduler tests.

`MockRunner` applies every request at once (pause, unpause, stop, checkpoint, exploit) and keeps the
seed's `stop_trial` semantics; `drive()` plays a tiny sequential controller over hand-made trials.
"""
from __future__ import annotations

from typing import Callable

from tunelab.schedulers import TrialScheduler
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trial import Trial

DECISIONS = (TrialScheduler.CONTINUE, TrialScheduler.PAUSE, TrialScheduler.STOP)


def result(t: float, rew: float) -> dict:
    """The seed tests' result: time, reward and iteration."""
    return dict(time_total_s=t, episode_reward_mean=rew, training_iteration=int(t))


class MockExecutor:
    def pause_trial(self, trial: Trial) -> None:
        trial.status = Trial.PAUSED

    def unpause_trial(self, trial: Trial) -> None:
        if trial.status == Trial.PAUSED:
            trial.status = Trial.PENDING

    def stop_trial(self, trial: Trial) -> None:
        trial.status = Trial.TERMINATED


class MockRunner:
    """The runner surface: trials, resources for `capacity` running trials, stop/pause/checkpoint/exploit."""

    def __init__(self, scheduler: TrialScheduler, capacity: int = 1_000_000):
        self.scheduler = scheduler
        self.capacity = capacity
        self.trials: list[Trial] = []
        self.trial_executor = MockExecutor()
        self.stopped: list[Trial] = []

    def add_trial(self, trial: Trial) -> Trial:
        self.trials.append(trial)
        self.scheduler.on_trial_add(self, trial)
        return trial

    def get_trials(self) -> list[Trial]:
        return self.trials

    def has_resources(self, resources) -> bool:
        return sum(t.status == Trial.RUNNING for t in self.trials) < self.capacity

    def stop_trial(self, trial: Trial) -> None:
        if trial.is_finished():
            return
        self.stopped.append(trial)
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self.scheduler.on_trial_remove(self, trial)
        else:
            self.scheduler.on_trial_complete(self, trial, result(100, 10))
        trial.status = Trial.TERMINATED

    def checkpoint_trial(self, trial: Trial) -> Checkpoint:
        trial.checkpoint = Checkpoint.from_dict({"from": trial.trainable_name})
        return trial.checkpoint

    def exploit_trial(self, trial: Trial, new_config: dict, new_tag: str, checkpoint: Checkpoint) -> None:
        trial.config, trial.experiment_tag = new_config, new_tag
        trial.restored_checkpoint = checkpoint.to_dict()["from"]

    def launch(self, trial: Trial) -> None:
        trial.status = Trial.RUNNING

    def process_action(self, trial: Trial, action: str) -> None:
        assert action in DECISIONS, action
        if action == TrialScheduler.PAUSE:
            self.trial_executor.pause_trial(trial)
        elif action == TrialScheduler.STOP:
            self.trial_executor.stop_trial(trial)


def drive(scheduler: TrialScheduler, trials: list[Trial], score: Callable[[Trial, int], float], max_t: int,
          workers: int = 1, max_events: int = 100_000) -> MockRunner:
    """Run `trials` to the end like a controller: start what the scheduler chooses (round-robin over the
    running ones), report `score(trial, t)` each iteration, complete a trial at `max_t`.

    Fails when a choice is not PENDING/PAUSED, or when trials wait while nothing runs (a deadlock).
    """
    runner = MockRunner(scheduler, capacity=workers)
    for trial in trials:
        runner.add_trial(trial)
    clock = {t.trial_id: 0 for t in trials}
    turn = 0
    for _ in range(max_events):
        while runner.has_resources(None):
            chosen = scheduler.choose_trial_to_run(runner)
            if chosen is None:
                break
            assert chosen.status in (Trial.PENDING, Trial.PAUSED), chosen.status
            runner.launch(chosen)
        running = [t for t in runner.trials if t.status == Trial.RUNNING]
        if not running:
            waiting = [t for t in runner.trials if not t.is_finished()]
            assert not waiting, f"deadlock: {[t.status for t in waiting]} and nothing runs"
            return runner
        trial = running[turn % len(running)]
        turn += 1
        clock[trial.trial_id] += 1
        t = clock[trial.trial_id]
        res = dict(training_iteration=t, time_total_s=float(t), episode_reward_mean=score(trial, t))
        if t >= max_t:
            scheduler.on_trial_complete(runner, trial, res)
            trial.status = Trial.TERMINATED
        else:
            action = scheduler.on_trial_result(runner, trial, res)
            runner.process_action(trial, action)
        trial.last_result = res
    raise AssertionError("the experiment did not finish")
