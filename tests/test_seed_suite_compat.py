"""What the 2018 Ray Tune test files (changed only in their imports) need from tunelab beyond the public API.

The seed's tests imported schedulers from flat modules (`ray.tune.hyperband`, ...), registered values
straight into `_global_registry`, drove `Trial` objects by hand (`start`, `stop`, `pause`), stepped a
`TrialRunner` one action at a time right after stopping a trial, and called `ray.init(redirect_output=True)`
and `run_experiments(queue_trials=True)`. Each test below checks one of these with tunelab's own trials.
"""
import importlib
import os
import uuid

import pytest

import tunelab
from tunelab import TuneError, register_trainable, run_experiments
from tunelab.registry import TRAINABLE_CLASS, _global_registry, get_trainable
from tunelab.schedulers import TrialScheduler
from tunelab.suggest import BasicVariantGenerator
from tunelab.trial import Resources, Trial
from tunelab.trial_runner import TrialRunner


def _name(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def _steps(config, reporter):
    for i in range(3):
        reporter(timesteps_total=i)


@pytest.mark.parametrize("module, names, home", [
    ("tunelab.hyperband", ["HyperBandScheduler"], "tunelab.schedulers"),
    ("tunelab.async_hyperband", ["AsyncHyperBandScheduler"], "tunelab.schedulers"),
    ("tunelab.pbt", ["PopulationBasedTraining", "explore"], "tunelab.schedulers.pbt"),
    ("tunelab.median_stopping_rule", ["MedianStoppingRule"], "tunelab.schedulers"),
    ("tunelab.trial_scheduler", ["TrialScheduler", "FIFOScheduler"], "tunelab.schedulers"),
])
def test_pre_package_scheduler_paths_name_the_same_objects(module, names, home):
    flat, package = importlib.import_module(module), importlib.import_module(home)
    for name in names:
        assert getattr(flat, name) is getattr(package, name)


def test_register_all_brings_back_the_builtin_fake_trainable():
    from tunelab.rllib import _register_all

    original = get_trainable("__fake")
    register_trainable("__fake", _steps)  # a test that replaced the built-in, as the seed's tests did
    assert get_trainable("__fake") is _steps
    _register_all()
    assert get_trainable("__fake") is original


def test_global_registry_stores_values_unchecked_and_a_trial_using_none_fails_to_start():
    name = _name("asdf")
    _global_registry.register(TRAINABLE_CLASS, name, None)
    assert _global_registry.contains(TRAINABLE_CLASS, name)
    with pytest.raises(TuneError, match="must be a class"):
        Trial(name, resources=Resources(1, 0)).start()
    with pytest.raises(TuneError, match="Unknown registry category 'models'"):
        _global_registry.register("models", name, None)


def test_a_trial_whose_trainable_cannot_run_errors_in_the_step_that_starts_it(fresh_executor):
    tunelab.init(num_cpus=2)
    name = _name("asdf")
    _global_registry.register(TRAINABLE_CLASS, name, None)
    runner = TrialRunner(BasicVariantGenerator())
    broken = Trial(name, stopping_criterion={"training_iteration": 1})
    good = Trial("__fake", stopping_criterion={"training_iteration": 1})
    runner.add_trial(broken)
    runner.add_trial(good)

    runner.step()
    assert (broken.status, good.status) == (Trial.ERROR, Trial.PENDING)
    with open(broken.error_file) as f:
        assert "must be a class" in f.read()
    runner.step()
    assert good.status == Trial.RUNNING
    while not runner.is_finished():
        runner.step()
    assert good.status == Trial.TERMINATED


def test_hand_driven_trial_moves_through_the_seed_states():
    trial = Trial("__fake", config={"a" * 50: 5.0 / 7, "b" * 50: "long" * 40},
                  experiment_tag="0_" + "a" * 50 + "=0.71," + "b" * 50 + "=" + "long" * 40)
    assert trial.status == Trial.PENDING
    trial.start()
    assert trial.status == Trial.RUNNING and os.path.isdir(trial.logdir) and len(trial.logdir) <= 200
    trial.pause()
    assert trial.status == Trial.PAUSED
    trial.unpause()
    assert trial.status == Trial.PENDING
    with pytest.raises(TuneError, match="is PENDING; only a PAUSED trial can resume"):
        trial.resume()
    trial.start()
    trial.pause()
    trial.resume()
    assert trial.status == Trial.RUNNING
    trial.stop()
    assert trial.status == Trial.TERMINATED
    trial.stop(error=True, error_msg="Traceback: it broke")
    assert trial.status == Trial.ERROR
    with open(trial.error_file) as f:
        assert "it broke" in f.read()


def test_next_step_after_stopping_a_running_trial_starts_one_waiting_for_its_resources(fresh_executor):
    tunelab.init(num_cpus=1)
    runner = TrialRunner(BasicVariantGenerator())
    trials = [Trial("__fake", stopping_criterion={"training_iteration": 5}) for _ in range(2)]
    for trial in trials:
        runner.add_trial(trial)
    runner.step()
    assert [t.status for t in trials] == [Trial.RUNNING, Trial.PENDING]
    runner.stop_trial(trials[0])
    runner.step()  # its CPU is free again within this step, as when the seed stopped actors synchronously
    assert [t.status for t in trials] == [Trial.TERMINATED, Trial.RUNNING]
    runner.step()  # the next action is the new trial's first result, not the stop's bookkeeping
    assert trials[1].last_result["training_iteration"] == 1


def test_web_server_has_its_seed_attribute_name(fresh_executor):
    runner = TrialRunner(BasicVariantGenerator(), launch_web_server=True, server_port=0)
    try:
        assert runner._server is runner.server is not None
    finally:
        runner._server.shutdown()


def test_seed_init_and_queue_trials_options_run_the_script(fresh_executor, tmp_path):
    # every 2018 example called ray.init(redirect_output=True): it runs, and says what it does not do
    with pytest.warns(UserWarning, match="redirect_output=True: tunelab keeps worker output on the driver's console"):
        tunelab.init(redirect_output=True)
    name = _name("f1")
    register_trainable(name, _steps)
    [trial] = run_experiments({"q": {"run": name, "local_dir": str(tmp_path)}}, verbose=0, queue_trials=True)
    assert trial.status == Trial.TERMINATED and trial.last_result["timesteps_total"] == 2
    with pytest.raises(TuneError):  # a request no machine here can hold still fails, with or without queueing
        run_experiments({"big": {"run": name, "resources_per_trial": {"cpu": 1, "gpu": 100}}}, verbose=0,
                        queue_trials=True)


def test_a_failed_trial_that_may_recover_runs_again_within_the_same_step(fresh_executor):
    tunelab.init(num_cpus=1)
    runner = TrialRunner(BasicVariantGenerator())
    trial = Trial("__fake", checkpoint_freq=1, max_failures=1, config={"mock_error": True})
    runner.add_trial(trial)
    runner.step()  # start
    runner.step()  # iteration 1, checkpointed
    assert trial.status == Trial.RUNNING and trial.has_checkpoint()
    runner.step()  # iteration 2 fails: restarted from the checkpoint at once, as the seed's restart_trial
    assert (trial.status, trial.num_failures) == (Trial.RUNNING, 1)


def test_a_trial_subclass_that_skips_trial_init_still_has_a_unique_id():
    class HandMade(Trial):
        def __init__(self, i):  # as the seed's scheduler tests wrote their _MockTrial
            self.trainable_name = f"trial_{i}"
            self.config = {}

    first, second = HandMade(0), HandMade(1)
    assert first.trial_id == first.trial_id and first.trial_id != second.trial_id
    with pytest.raises(AttributeError, match="no attribute 'logdir'"):
        first.logdir  # noqa: B018 - other missing attributes stay missing


def test_web_server_requests_are_done_at_the_end_of_a_step(fresh_executor):
    import threading
    import time

    from tunelab.web_server import TuneClient

    tunelab.init(num_cpus=1)
    runner = TrialRunner(BasicVariantGenerator(), launch_web_server=True, server_port=0)
    try:
        trial = Trial("__fake", stopping_criterion={"training_iteration": 5})
        runner.add_trial(trial)
        runner.step()
        assert trial.status == Trial.RUNNING
        client = TuneClient(f"127.0.0.1:{runner.server.port}")
        caller = threading.Thread(target=client.stop_trial, args=(trial.trial_id,))
        caller.start()
        deadline = time.monotonic() + 30
        while not runner.commands and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.step()  # first its own action (the trial's first result), then the queued stop
        caller.join(30)
        assert trial.status == Trial.TERMINATED and trial.last_result["training_iteration"] == 1
    finally:
        runner._server.shutdown()


class _RunnerWithoutExecutor:
    """A runner as 2018 tests wrote them by hand: trials, resources and stop_trial, but no `trial_executor`,
    `checkpoint_trial` or `exploit_trial`. Stopping a waiting trial tells the scheduler, as theirs did."""

    def __init__(self, scheduler):
        self.scheduler, self.trials = scheduler, []

    def add(self, trial):
        self.trials.append(trial)
        self.scheduler.on_trial_add(self, trial)

    def get_trials(self):
        return self.trials

    def has_resources(self, resources):
        return True

    def stop_trial(self, trial):
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self.scheduler.on_trial_remove(self, trial)
        trial.stop()


def test_hyperband_halves_a_bracket_for_a_runner_without_trial_executor():
    from tunelab.schedulers import HyperBandScheduler

    hyperband = HyperBandScheduler(metric="score", mode="max", max_t=8, reduction_factor=2)
    runner = _RunnerWithoutExecutor(hyperband)
    for i in range(14):  # 7 fill the bracket without halving; the next 7 share one with milestone 4
        runner.add(Trial("__fake", config={"score": i}))
    halved = runner.trials[7:]
    decisions = []
    for trial in halved:
        trial.start()
        decisions.append(hyperband.on_trial_result(runner, trial, {"training_iteration": 4,
                                                                    "score": trial.config["score"]}))
        if decisions[-1] == TrialScheduler.PAUSE:
            trial.pause()
    # the last trial at the milestone halves the bracket: the worst are stopped, the paused survivors are
    # unpaused (PENDING, to be chosen again) on the trials themselves, and the reporting trial goes on
    assert decisions == [TrialScheduler.PAUSE] * 6 + [TrialScheduler.CONTINUE]
    assert [t.status for t in halved] == [Trial.TERMINATED] * 3 + [Trial.PENDING] * 3 + [Trial.RUNNING]


def test_pbt_clones_a_top_trial_for_a_runner_without_checkpoint_or_exploit(tmp_path):
    from tunelab.schedulers import PopulationBasedTraining
    from tunelab.trainable.checkpoint import Checkpoint

    pbt = PopulationBasedTraining(time_attr="training_iteration", metric="score", mode="max",
                                  perturbation_interval=1, hyperparam_mutations={"lr": [0.1, 0.2]}, seed=1)
    runner = _RunnerWithoutExecutor(pbt)
    for i in range(4):
        trial = Trial("__fake", config={"lr": 0.1, "score": i})
        runner.add(trial)
        trial.start()
        (tmp_path / str(i)).mkdir()
        trial.checkpoint = Checkpoint.from_directory(tmp_path / str(i))
    best, worst = runner.trials[3], runner.trials[0]
    for iteration in (1, 2):  # the first round scores everyone; in the second the best is saved, then cloned
        for trial in reversed(runner.trials):
            pbt.on_trial_result(runner, trial, {"training_iteration": iteration, "score": trial.config["score"]})
    assert worst.status == Trial.RUNNING  # stopped and started again, from the best trial's checkpoint
    assert worst.checkpoint is best.checkpoint
    assert worst.config["score"] == 3 and worst.experiment_tag.startswith("@perturbed[lr=")
    assert [t.config["score"] for t in runner.trials[1:]] == [1, 2, 3]


def test_suggestion_test_double_takes_experiments_in_its_constructor():
    from tunelab.experiment import Experiment
    from tunelab.suggest.suggestion import _MockSuggestionAlgorithm

    search = _MockSuggestionAlgorithm(Experiment("double", "__fake", stop={"training_iteration": 1},
                                                 num_samples=5), max_concurrent=3)
    assert [e.name for e in search.added_experiments()] == ["double"]
    trials = search.next_trials()
    assert len(trials) == 3 and trials[0].config == {"test_variable": 2}  # throttled at max_concurrent


def test_hyperopt_search_built_with_experiments_runs_them_without_experiments_argument(tmp_path):
    pytest.importorskip("hyperopt")
    from hyperopt import hp

    from tunelab.suggest import HyperOptSearch

    name = _name("hyperopt_seed")
    register_trainable(name, lambda config, reporter: reporter(done=True, loss=(config["x"] - 1) ** 2))
    experiments = {"seed_form": {"run": name, "num_samples": 3, "local_dir": str(tmp_path)}}
    search = HyperOptSearch(experiments, {"x": hp.uniform("x", -2, 2)}, max_concurrent=2, reward_attr="loss")
    trials = run_experiments(search_alg=search, verbose=0)
    assert len(trials) == 3 and all(t.status == Trial.TERMINATED for t in trials)
    assert all(-2 <= t.config["x"] <= 2 for t in trials)


def test_hyperopt_search_takes_the_seed_positional_order_after_experiments():
    pytest.importorskip("hyperopt")
    from hyperopt import hp

    from tunelab.suggest import HyperOptSearch

    search = HyperOptSearch({"e": {"run": "__fake"}}, {"x": hp.uniform("x", 0, 1)}, 3, "acc")
    assert search.initial_experiments == {"e": {"run": "__fake"}}
    assert (search.metric, search.mode) == ("acc", "max")


def test_web_server_answers_a_step_driven_runner_at_once_and_acts_at_the_next_step(fresh_executor):
    import requests

    from tunelab.web_server import TuneClient

    tunelab.init(num_cpus=2)
    runner = TrialRunner(BasicVariantGenerator(), launch_web_server=True, server_port=0)
    try:
        trial = Trial("__fake", stopping_criterion={"training_iteration": 50})
        runner.add_trial(trial)
        runner.step()
        client = TuneClient(f"127.0.0.1:{runner.server.port}")
        # one thread, as 2018 tests did: the client returns before the runner steps again
        assert client.stop_trial(trial.trial_id) == {"trial": None, "queued": True}
        assert client.add_trial("added", {"run": "__fake", "stop": {"training_iteration": 1}})["queued"]
        assert trial.status == Trial.RUNNING and len(runner.get_trials()) == 1
        runner.step()
        assert trial.status == Trial.TERMINATED
        assert len(client.get_all_trials()["trials"]) == 2
        answer = requests.put(f"http://127.0.0.1:{runner.server.port}/trials/{trial.trial_id}", timeout=10)
        assert answer.status_code == 202
    finally:
        runner._server.shutdown()
