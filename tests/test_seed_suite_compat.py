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
