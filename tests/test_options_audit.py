"""Every keyword a public entry point accepts works (one test per option group shows its effect), or raises
a TuneError saying it is not supported; a misspelled keyword names the close matches. Checkpoint options
are shown in tests/resume/test_checkpoint_names.py and test_recovery.py, trial names in
test_trial_names.py, the REST server in tests/server/test_rest.py, resume in tests/resume/."""
import inspect
import json
import os
import re

import pytest

import tunelab as tune
from tunelab.api import init, run, run_experiments
from tunelab.loggers import JsonLoggerCallback
from tunelab.options import NOT_SUPPORTED, REMOTE_STORAGE_OPTIONS, SYNC_OPTIONS
from tunelab.schedulers import FIFOScheduler, TrialScheduler
from tunelab.suggest import Searcher

HERE = os.path.dirname(os.path.abspath(__file__))
GUIDE = os.path.join(HERE, "..", "docs", "guide.md")


def counter(config):
    for i in range(config.get("n", 3)):
        tune.report(score=config.get("x", 0) + i)


class Saver(tune.Trainable):
    def step(self):
        return {"score": self.iteration}


# -- misspelled and unsupported keywords -------------------------------------------------------------
@pytest.mark.parametrize("call, key, suggestion", [
    (lambda: tune.run(counter, num_sample=2, verbose=0), "num_sample", "num_samples"),
    (lambda: tune.run(counter, checkpoint_frequency=2, verbose=0), "checkpoint_frequency", "checkpoint_freq"),
    (lambda: tune.run(counter, max_concurrent=2, verbose=0), "max_concurrent", "max_concurrent_trials"),
    (lambda: tune.run_experiments({"e": {"run": counter}}, verbos=0), "verbos", "verbose"),
    (lambda: tune.Experiment("e", counter, stop_criteria={}), "stop_criteria", None),
    (lambda: tune.Experiment("e", counter, num_sampels=2), "num_sampels", "num_samples"),
    (lambda: tune.init(num_cpu=1), "num_cpu", "num_cpus"),
])
def test_misspelled_keyword_names_it_and_close_matches(call, key, suggestion):
    with pytest.raises(tune.TuneError, match=f"unknown keyword argument '{key}'") as info:
        call()
    if suggestion:
        assert f"did you mean '{suggestion}'" in str(info.value)
    assert "Accepted:" in str(info.value)


@pytest.mark.parametrize("option", SYNC_OPTIONS)
def test_ray_sync_options_say_what_to_use_instead(option, tmp_path):
    with pytest.raises(tune.TuneError, match=f"{option}=.*not supported.*storage_path"):
        tune.run(counter, verbose=0, local_dir=str(tmp_path), **{option: "s3://bucket/x"})
    with pytest.raises(tune.TuneError, match=f"{option}=.*not supported"):
        tune.run_experiments({"e": {"run": counter, option: "s3://bucket/x"}}, verbose=0)
    assert not os.listdir(tmp_path)  # refused before anything ran


@pytest.mark.parametrize("option", ["upload_dir", "storage_path"])
def test_storage_with_an_unknown_scheme_is_refused_before_any_trial(option, tmp_path):
    with pytest.raises(tune.TuneError, match="nosuchscheme://b/x.*Protocol not known"):
        tune.run(counter, verbose=0, local_dir=str(tmp_path), **{option: "nosuchscheme://b/x"})
    with pytest.raises(tune.TuneError, match="nosuchscheme"):
        tune.run_experiments({"e": {"run": counter, option: "nosuchscheme://b/x", "local_dir": str(tmp_path)}},
                             verbose=0)
    assert not [p for p in tmp_path.rglob("*") if p.name == "result.json"]  # no trial ran


def test_upload_dir_unset_is_fine_and_set_is_used(tmp_path):
    trials = tune.run_experiments({"e": {"run": counter, "upload_dir": "", "local_dir": str(tmp_path / "a")}},
                                  verbose=0)
    assert trials[0].status == "TERMINATED"
    trials = tune.run_experiments({"e": {"run": counter, "upload_dir": str(tmp_path / "up"),
                                         "local_dir": str(tmp_path / "b")}}, verbose=0)
    assert trials[0].status == "TERMINATED"
    assert list((tmp_path / "up" / "e").glob("*/result.json"))  # copied to upload_dir/<name>


_REFUSED_VALUES = {"fail_fast": True, "reuse_actors": True, "trial_executor": object(),
                   "progress_reporter": object(), "log_to_file": True, "export_formats": ["h5"],
                   "checkpoint_config": object(), "failure_config": object(), "loggers": [object],
                   "chdir_to_trial_dir": False, "return_trials": True, "ray_auto_init": False,
                   "global_checkpoint_period": 10, "param_space": {"x": 1}, "run_config": object(),
                   "tune_config": object()}


#: options that NOT_SUPPORTED lists with every value accepted (they ask for what tunelab does anyway)
_ALWAYS_ACCEPTED = {"queue_trials"}


@pytest.mark.parametrize("option", sorted(set(NOT_SUPPORTED) - _ALWAYS_ACCEPTED))
def test_ray_options_tunelab_lacks_say_so(option):
    with pytest.raises(tune.TuneError, match=f"{option}=.* is not supported; "):
        tune.run(counter, verbose=0, **{option: _REFUSED_VALUES[option]})


def test_values_that_ask_for_what_tunelab_does_are_accepted(tmp_path):
    analysis = tune.run(counter, verbose=0, local_dir=str(tmp_path), fail_fast=False, reuse_actors=False,
                        chdir_to_trial_dir=True, log_to_file=False, export_formats=[])
    assert analysis.trials[0].status == "TERMINATED"
    trials = tune.run_experiments({"q": {"run": counter, "local_dir": str(tmp_path)}}, verbose=0, queue_trials=False)
    assert trials[0].status == "TERMINATED"
    # the seed's queue_trials=True (for autoscaling clusters): trials wait for resources either way here
    trials = tune.run_experiments({"q": {"run": counter, "local_dir": str(tmp_path)}}, verbose=0, queue_trials=True)
    assert trials[0].status == "TERMINATED"
    with pytest.raises(tune.TuneError, match="trial_executor=.* is not supported"):
        tune.run_experiments({"q": {"run": counter}}, trial_executor=object())


def test_init_refuses_ray_only_options_and_accepts_reinit():
    with pytest.raises(tune.TuneError, match="redis_address='10.0.0.1:6379' is not supported; use tunelab.init"):
        tune.init(redis_address="10.0.0.1:6379")
    with pytest.raises(tune.TuneError, match="object_store_memory"):
        tune.init(object_store_memory=10**9)
    tune.init(num_cpus=2, ignore_reinit_error=True)
    tune.init(ignore_reinit_error=False)  # called again: always allowed
    tune.shutdown()


def test_spec_options_next_to_an_experiment_object_are_refused(tmp_path):
    experiment = tune.Experiment("obj", counter, local_dir=str(tmp_path))
    with pytest.raises(tune.TuneError, match="config, num_samples describe the experiment"):
        tune.run(experiment, config={"x": 1}, num_samples=2, verbose=0)
    assert tune.run(experiment, verbose=0).trials[0].status == "TERMINATED"


def test_server_port_without_server_is_refused():
    with pytest.raises(tune.TuneError, match="server_port=5000 needs with_server=True"):
        tune.run(counter, server_port=5000, verbose=0)


def test_checkpoint_options_need_a_trainable_that_saves():
    with pytest.raises(tune.TuneError, match="checkpoint_freq=2 .* need a Trainable class"):
        tune.run(counter, checkpoint_freq=2, verbose=0)
    with pytest.raises(tune.TuneError, match="checkpoint_at_end=True need a Trainable class"):
        tune.run(counter, checkpoint_at_end=True, verbose=0)
    with pytest.raises(tune.TuneError, match="Saver implements neither"):
        tune.run(Saver, checkpoint_freq=1, stop={"training_iteration": 2}, verbose=0)


# -- each option group has its effect ----------------------------------------------------------------
def test_name_local_dir_config_num_samples(tmp_path):
    analysis = tune.run(counter, name="grp", local_dir=str(tmp_path), num_samples=2,
                        config={"x": tune.grid_search([10, 20]), "n": 1}, verbose=0)
    assert sorted(t.config["x"] for t in analysis.trials) == [10, 10, 20, 20]
    assert all(os.path.dirname(t.logdir) == str(tmp_path / "grp") for t in analysis.trials)


def test_stop_forms_and_time_budget(tmp_path):
    class StopAt2(tune.Stopper):
        def __call__(self, trial_id, result):
            return result["training_iteration"] >= 2

        def stop_all(self):
            return False

    for stop in ({"training_iteration": 2}, lambda trial_id, result: result["training_iteration"] >= 2, StopAt2()):
        [trial] = tune.run(counter, config={"n": 10}, stop=stop, local_dir=str(tmp_path), verbose=0).trials
        assert trial.last_result["training_iteration"] == 2

    def forever(config):
        while True:
            tune.report(score=1)

    analysis = tune.run(forever, time_budget_s=0.5, local_dir=str(tmp_path), verbose=0, raise_on_failed_trial=False)
    assert analysis.trials[0].is_finished()  # the budget ended a trial that would never stop


def test_metric_mode_search_alg_and_scheduler(tmp_path):
    class Fixed(Searcher):
        def __init__(self):
            super().__init__()
            self.values = [3, 1, 2]

        def suggest(self, trial_id):
            return {"x": self.values.pop(0), "n": 3} if self.values else None

    class StopAfterOne(FIFOScheduler):
        def on_trial_result(self, runner, trial, result):
            return TrialScheduler.STOP

    analysis = tune.run(counter, search_alg=Fixed(), num_samples=3, metric="score", mode="min",
                        scheduler=StopAfterOne(), local_dir=str(tmp_path), verbose=0)
    assert sorted(t.config["x"] for t in analysis.trials) == [1, 2, 3]
    assert all(t.last_result["training_iteration"] == 1 for t in analysis.trials)  # the scheduler stopped each
    assert analysis.best_config["x"] == 1  # mode="min" on metric "score"


def test_resources_and_max_concurrent_trials(tmp_path):
    def spans(config):
        import time

        start = time.time()
        time.sleep(0.05)
        tune.report(start=start, end=time.time())

    analysis = tune.run(spans, num_samples=3, max_concurrent_trials=1, resources_per_trial={"cpu": 1},
                        local_dir=str(tmp_path), verbose=0)
    runs = sorted((t.last_result["start"], t.last_result["end"]) for t in analysis.trials)
    assert all(later[0] >= earlier[1] for earlier, later in zip(runs, runs[1:]))  # never two at once
    assert all(t.resources.cpu == 1 for t in analysis.trials)


def test_max_failures_and_raise_on_failed_trial(tmp_path):
    def fails(config):
        tune.report(score=1)
        raise ValueError("boom")

    with pytest.raises(tune.TuneError, match="did not complete"):
        tune.run(fails, local_dir=str(tmp_path), verbose=0)
    analysis = tune.run(fails, max_failures=1, local_dir=str(tmp_path), verbose=0, raise_on_failed_trial=False)
    assert analysis.trials[0].num_failures == 2  # retried once, then given up


def test_callbacks_and_a_user_logger_replacing_the_default(tmp_path):
    seen = []

    class Seen(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            seen.append(result["training_iteration"])

    [trial] = tune.run(counter, callbacks=[Seen(), JsonLoggerCallback()], local_dir=str(tmp_path), verbose=0).trials
    assert seen == [1, 2, 3]
    with open(os.path.join(trial.logdir, "result.json")) as f:
        assert [json.loads(line)["training_iteration"] for line in f] == [1, 2, 3]  # written once, not twice
    with pytest.raises(tune.TuneError, match="callbacks must be tunelab.Callback"):
        tune.run(counter, callbacks=[print], verbose=0)


def test_verbose(tmp_path, capsys):
    tune.run(counter, local_dir=str(tmp_path), verbose=0)
    assert capsys.readouterr().out == ""
    tune.run(counter, local_dir=str(tmp_path), verbose=1)
    assert "TERMINATED" in capsys.readouterr().out


def test_trainable_logger_creator_sets_logdir_and_gets_results(tmp_path):
    class Recorder:
        def __init__(self, config):
            self.logdir = str(tmp_path / "mine")
            os.makedirs(self.logdir)
            self.results, self.closed = [], False

        def on_result(self, result):
            self.results.append(result["training_iteration"])

        def close(self):
            self.closed = True

    trainable = Saver({"a": 1}, logger_creator=Recorder)
    trainable.train()
    trainable.train()
    trainable.stop()
    assert trainable.logdir == str(tmp_path / "mine")
    assert trainable._result_logger.results == [1, 2] and trainable._result_logger.closed
    with pytest.raises(tune.TuneError, match="logger_creator"):
        Saver({}, logger_creator="nope")


# -- the documentation lists every option ------------------------------------------------------------
def _documented_options():
    text = open(GUIDE).read()
    section = text[text.index("## tune.run options"):]
    return set(re.findall(r"^\| `([a-z_]+)`", section, flags=re.M)) | set(re.findall(r"`([a-z_]+)`", section))


@pytest.mark.parametrize("fn", [run, run_experiments, init, tune.Experiment.__init__])
def test_every_keyword_is_documented(fn):
    documented = _documented_options()
    params = [p.name for p in inspect.signature(fn).parameters.values()
              if p.kind is not p.VAR_KEYWORD and p.name not in ("self", "run_or_experiment", "experiments")]
    missing = [p for p in params if p not in documented]
    assert not missing, f"docs/guide.md 'tune.run options' does not list {missing}"
    assert not [o for o in list(NOT_SUPPORTED) + list(REMOTE_STORAGE_OPTIONS) if o not in documented]
