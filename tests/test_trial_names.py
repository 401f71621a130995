"""`trial_name_creator` names a trial (status table, str(trial), its folder); `trial_dirname_creator` names
its folder exactly; bad names are a TuneError naming the value."""
import os

import pytest

import tunelab as tune


def train(config):
    tune.report(score=config["lr"])


def by_lr(trial):
    return f"lr={trial.config['lr']}"


def test_name_creator_names_status_table_and_folders(tmp_path, capsys):
    analysis = tune.run(train, name="named", config={"lr": tune.grid_search([0.1, 0.2])}, local_dir=str(tmp_path),
                        trial_name_creator=by_lr, verbose=1)
    names = sorted(str(t) for t in analysis.trials)
    assert names == ["lr=0.1", "lr=0.2"]
    out = capsys.readouterr().out
    assert " - lr=0.1:" in out and " - lr=0.2:" in out  # the status table lines
    folders = sorted(os.listdir(tmp_path / "named"))
    for trial in analysis.trials:
        assert os.path.basename(trial.logdir) == f"{trial}_{trial.trial_id}"
        assert os.path.basename(trial.logdir) in folders


def test_seed_spec_key_with_tune_function(tmp_path):
    trials = tune.run_experiments({"seed_named": {
        "run": train, "config": {"lr": 0.5}, "local_dir": str(tmp_path),
        "trial_name_creator": tune.function(lambda trial: "my_trial")}}, verbose=0)
    assert str(trials[0]) == "my_trial"
    assert os.path.basename(trials[0].logdir).startswith("my_trial_")


def test_dirname_creator_names_the_folder_exactly(tmp_path):
    analysis = tune.run(train, name="dirs", config={"lr": tune.grid_search([1, 2])}, local_dir=str(tmp_path),
                        trial_dirname_creator=lambda t: f"run{t.config['lr']}", verbose=0)
    assert {"run1", "run2"} <= set(os.listdir(tmp_path / "dirs"))
    for trial in analysis.trials:
        assert trial.logdir == str(tmp_path / "dirs" / f"run{trial.config['lr']}")
        assert os.path.exists(os.path.join(trial.logdir, "result.json"))
        assert str(trial).startswith("train")  # the display name is unchanged
    reloaded = tune.ExperimentAnalysis(str(tmp_path / "dirs"))
    assert sorted(t.last_result["score"] for t in reloaded.trials) == [1, 2]


def test_names_survive_resume(tmp_path):
    first = tune.run(train, name="keep", config={"lr": 3}, local_dir=str(tmp_path), trial_name_creator=by_lr,
                     verbose=0)
    again = tune.run(train, name="keep", config={"lr": 3}, local_dir=str(tmp_path), trial_name_creator=by_lr,
                     resume=True, verbose=0)
    assert str(again.trials[0]) == "lr=3" and again.trials[0].logdir == first.trials[0].logdir


@pytest.mark.parametrize("bad", ["", "  ", None, 3, "a/b", "..", "a\\b"])
def test_bad_names_are_tune_errors_naming_the_value(bad, tmp_path):
    for option in ("trial_name_creator", "trial_dirname_creator"):
        with pytest.raises(tune.TuneError, match=option) as info:
            tune.run(train, config={"lr": 1}, local_dir=str(tmp_path), verbose=0, **{option: lambda t: bad})
        assert repr(bad) in str(info.value)


def test_not_callable_and_duplicate_folders(tmp_path):
    with pytest.raises(tune.TuneError, match="trial_name_creator must be a function"):
        tune.run(train, config={"lr": 1}, trial_name_creator="name", verbose=0)
    with pytest.raises(tune.TuneError, match="'same'.*already"):
        tune.run(train, config={"lr": tune.grid_search([1, 2])}, local_dir=str(tmp_path), verbose=0,
                 trial_dirname_creator=lambda t: "same")
