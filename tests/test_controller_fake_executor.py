"""The controller without worker processes: a fake executor, implementing the `Executor` interface in
memory, drives trials through results, pause, stop, checkpoint and exploit, so the controller's
application of scheduler decisions is tested on its own (as Ray and Syne Tune test their tuners)."""
from __future__ import annotations

import os

import pytest

from tunelab.controller import Controller
from tunelab.execution import protocol as P
from tunelab.execution.executor import Event, Executor
from tunelab.resources import Resources
from tunelab.schedulers import AsyncHyperBandScheduler, FIFOScheduler, PopulationBasedTraining, TrialScheduler
from tunelab.suggest.search import SearchAlgorithm
from tunelab.trial import Trial


class ListSearch(SearchAlgorithm):
    """Hands out a fixed list of trials, one at a time."""

    def __init__(self, trials: list[Trial]):
        self._trials = list(trials)

    def next_trial(self) -> Trial | None:
        return self._trials.pop(0) if self._trials else None

    def is_finished(self) -> bool:
        return not self._trials


class FakeExecutor(Executor):
    """Runs each trial as a counter in memory: every step reports `score(config, iteration)`. A save writes
    a folder holding the iteration; a restore continues from it. Every call is logged."""

    def __init__(self, folder: str, cpus: int = 2, score=lambda config, it: config["x"] * it, can_reset: bool = True):
        self.folder, self.cpus, self.score, self.can_reset = folder, cpus, score, can_reset
        self.iteration: dict[str, int] = {}
        self.running: dict[str, Trial] = {}
        self.events: list[Event] = []
        self.calls: list[tuple] = []
        self.most_running = 0

    # -- resources
    def _used(self) -> float:
        return sum(t.resources.cpu_total() for t in self.running.values())

    def has_resources(self, resources: Resources) -> bool:
        return self._used() + resources.cpu_total() <= self.cpus

    def never_fits(self, resources: Resources) -> str | None:
        return None if resources.cpu_total() <= self.cpus else f"needs {resources.cpu_total()} CPUs of {self.cpus}"

    def free_cpu(self) -> float | None:
        return self.cpus - self._used()

    def resource_summary(self) -> str:
        return f"{self._used()}/{self.cpus} CPUs"

    # -- trials
    def start_trial(self, trial: Trial, restore_path: str | None = None) -> None:
        self.calls.append(("start", trial.trial_id, restore_path))
        self.running[trial.trial_id] = trial
        self.most_running = max(self.most_running, len(self.running))
        self.iteration[trial.trial_id] = self._read(restore_path) if restore_path else 0
        self._step(trial)

    def continue_trial(self, trial: Trial) -> None:
        self._step(trial)

    def stop_trial(self, trial: Trial) -> None:
        self.calls.append(("stop", trial.trial_id))
        self.running.pop(trial.trial_id, None)
        self.events.append(Event(trial, P.STOPPED, ()))

    def save_trial(self, trial: Trial) -> str | None:
        iteration = self.iteration[trial.trial_id]
        path = os.path.join(self.folder, f"{trial.trial_id}_{iteration}")
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "iteration"), "w") as f:
            f.write(str(iteration))
        self.calls.append(("save", trial.trial_id, path))
        return path

    def reset_trial(self, trial: Trial, new_config: dict) -> bool:
        self.calls.append(("reset", trial.trial_id, self.can_reset))
        return self.can_reset

    def restore_trial(self, trial: Trial, checkpoint_path: str) -> None:
        self.calls.append(("restore", trial.trial_id, checkpoint_path))
        self.iteration[trial.trial_id] = self._read(checkpoint_path)

    def get_events(self, timeout: float) -> list[Event]:
        events, self.events = self.events, []
        return events

    def shutdown(self) -> None:
        pass

    def _step(self, trial: Trial) -> None:
        self.iteration[trial.trial_id] += 1
        it = self.iteration[trial.trial_id]
        result = {"training_iteration": it, "time_total_s": float(it), "episode_reward_mean": self.score(trial.config, it)}
        self.events.append(Event(trial, P.RESULT, (result, None)))

    @staticmethod
    def _read(path: str) -> int:
        with open(os.path.join(path, "iteration")) as f:
            return int(f.read())


def make_trials(tmp_path, xs, stop=8) -> list[Trial]:
    return [Trial("fake", config={"x": x}, trial_id=f"t{i}", local_dir=str(tmp_path / "exp"),
                  stopping_criterion={"training_iteration": stop}) for i, x in enumerate(xs)]


def run(tmp_path, scheduler: TrialScheduler, trials: list[Trial], **kwargs) -> tuple[Controller, FakeExecutor]:
    executor = FakeExecutor(str(tmp_path / "ckpt"), **kwargs)
    controller = Controller(ListSearch(trials), scheduler, executor)
    controller.run()
    return controller, executor


def test_fifo_runs_every_trial_to_its_stop_criterion_within_capacity(tmp_path):
    trials = make_trials(tmp_path, [1, 2, 3], stop=5)
    controller, executor = run(tmp_path, FIFOScheduler(), trials)
    assert [t.status for t in trials] == [Trial.TERMINATED] * 3
    assert [t.last_result["training_iteration"] for t in trials] == [5, 5, 5]
    assert all(t.last_result["done"] for t in trials)
    assert executor.most_running == 2  # two CPUs, one each
    assert [v.status for v in controller.trial_views()] == [Trial.TERMINATED] * 3
    assert controller.trial_view("t2").last_result["episode_reward_mean"] == 15


class Leapfrog(TrialScheduler):
    """A user scheduler written the 2018 way: at t0's 2nd result it stops the PENDING t2 through the runner,
    pauses t1 (PENDING) through `runner.trial_executor` and PAUSEs t0; once nothing is PENDING,
    `choose_trial_to_run` unpauses the paused trials one by one."""

    wants_all_trials = True  # every trial is added up front, so t0 can stop t2 before it starts

    def __init__(self):
        self.seen: list[tuple[str, int]] = []

    def on_trial_result(self, runner, trial, result):
        self.seen.append((trial.trial_id, result["training_iteration"]))
        by_id = {t.trial_id: t for t in runner.get_trials()}
        if trial.trial_id == "t0" and result["training_iteration"] == 2:
            runner.stop_trial(by_id["t2"])
            runner.trial_executor.pause_trial(by_id["t1"])
            return TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE

    def choose_trial_to_run(self, runner):
        for trial in runner.get_trials():
            if trial.status == Trial.PENDING and runner.has_resources(trial.resources):
                return trial
        for trial in runner.get_trials():
            if trial.status == Trial.PAUSED:
                runner.trial_executor.unpause_trial(trial)  # an action, applied before the trial starts
                return trial
        return None


def test_a_2018_scheduler_stops_pauses_and_resumes_through_the_runner(tmp_path):
    trials = make_trials(tmp_path, [1, 2, 3], stop=4)
    scheduler = Leapfrog()
    controller, executor = run(tmp_path, scheduler, trials, cpus=1)
    t0, t1, t2 = trials
    assert t2.status == Trial.TERMINATED and t2.last_result == {} and t2.logdir is None  # stopped, never ran
    assert (t0.status, t1.status) == (Trial.TERMINATED, Trial.TERMINATED)
    # t0 paused at 2 with a checkpoint, and came back from it at 3 (not from scratch)
    saves = [c for c in executor.calls if c[0] == "save" and c[1] == "t0"]
    assert saves and saves[0][2].endswith("t0_2")
    assert ("start", "t0", saves[0][2]) in executor.calls
    # the 4th result meets the stop criterion: on_trial_complete, not on_trial_result
    assert [s for s in scheduler.seen if s[0] == "t0"] == [("t0", 1), ("t0", 2), ("t0", 3)]
    assert t0.last_result["training_iteration"] == 4
    assert t1.last_result["training_iteration"] == 4  # paused while PENDING, then unpaused and run


@pytest.mark.parametrize("kind", ["stopping", "promotion"])
def test_asha_stops_the_bad_trials_and_runs_the_best_to_max_t(tmp_path, kind):
    """Stopping: STOP decisions. Promotion: PAUSE at rungs, resume the best, and at the end
    `choose_trial_to_run` stops the paused trials that can never be promoted (StopTrial actions)."""
    trials = make_trials(tmp_path, [9, 5, 1, 4, 2, 3], stop=100)
    asha = AsyncHyperBandScheduler(time_attr="training_iteration", max_t=9, grace_period=1, reduction_factor=3,
                                   brackets=1, type=kind, seed=0)
    controller, executor = run(tmp_path, asha, trials, cpus=1)
    iterations = {t.config["x"]: t.last_result["training_iteration"] for t in trials}
    assert all(t.status == Trial.TERMINATED for t in trials)
    assert iterations[9] == 9  # the best reached max_t
    assert iterations[1] == 1 and iterations[2] == 1  # the worst were stopped at the first rung
    assert max(executor.most_running, len(executor.running)) == 1


@pytest.mark.parametrize("can_reset", [True, False])
def test_pbt_checkpoints_the_donor_and_exploits_it(tmp_path, can_reset):
    trials = make_trials(tmp_path, [1, 2, 3, 4], stop=8)
    pbt = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2, quantile_fraction=0.25,
                                  hyperparam_mutations={"x": [1, 2, 3, 4]}, resample_probability=0.0, seed=0)
    controller, executor = run(tmp_path, pbt, trials, cpus=4, can_reset=can_reset)
    assert all(t.status == Trial.TERMINATED for t in trials)
    assert pbt.exploit_log, "the bottom trial cloned a top one"
    saves = {c[2]: c[1] for c in executor.calls if c[0] == "save"}
    for entry in pbt.exploit_log:
        restored = [c for c in executor.calls if c[1] == entry["trial_id"]
                    and ((c[0] == "restore" and can_reset) or (c[0] == "start" and c[2] and not can_reset))]
        assert restored, f"trial {entry['trial_id']} was not restored from a checkpoint"
        assert any(saves.get(c[2]) == entry["donor_id"] for c in restored)  # from its donor's checkpoint
    last = pbt.exploit_log[-1]
    trial = controller.get_trial(last["trial_id"])
    assert trial is not None and "@perturbed" in trial.experiment_tag
    assert controller.trial_view(last["trial_id"]).experiment_tag == trial.experiment_tag
