"""OptunaSearch(storage=..., study_name=...): a real tunelab experiment written to an Optuna RDB (SQLite) or
journal file, read back afterwards with `optuna.load_study` the way optuna-dashboard reads it."""
from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

import tunelab
from tunelab.error import TuneError
from tunelab.schedulers import ASHAScheduler
from tunelab.suggest import OptunaSearch


def train(config):
    if config["x"] > 4.0:
        raise ValueError("x too large")
    for step in range(1, 4):  # ends on its own before ASHA's max_t: a COMPLETE trial
        tunelab.report({"loss": (config["x"] - 1.0) ** 2 / step})


def journal(path: Path):
    from optuna.storages import JournalStorage

    try:
        from optuna.storages.journal import JournalFileBackend
    except ImportError:  # optuna < 4
        from optuna.storages import JournalFileStorage as JournalFileBackend
    return JournalStorage(JournalFileBackend(str(path)))


def run_into(storage, tmp_path: Path, study_name: str = "exp") -> tunelab.ExperimentAnalysis:
    searcher = OptunaSearch({"x": tunelab.uniform(-5, 5)}, metric="loss", mode="min", seed=3,
                            points_to_evaluate=[{"x": 4.5}], storage=storage, study_name=study_name)
    scheduler = ASHAScheduler(max_t=8, grace_period=1, reduction_factor=2)
    return tunelab.run(train, name="optuna_storage", metric="loss", mode="min", num_samples=12,
                       search_alg=searcher, scheduler=scheduler, local_dir=str(tmp_path), verbose=0,
                       raise_on_failed_trial=False)


def check_study(study: optuna.Study, analysis) -> None:
    trials = {t.user_attrs["tunelab_trial_id"]: t for t in study.trials}
    assert set(trials) == {t.trial_id for t in analysis.trials}
    seen_states = set()
    for trial in analysis.trials:
        stored = trials[trial.trial_id]
        assert stored.params == pytest.approx({"x": trial.config["x"]})
        if trial.status == "ERROR":
            expected = TrialState.FAIL
        elif trial.last_result["training_iteration"] < 3:
            expected = TrialState.PRUNED
        else:
            expected = TrialState.COMPLETE
        assert stored.state == expected, (trial, stored)
        seen_states.add(expected)
        if expected == TrialState.COMPLETE:
            assert stored.value == pytest.approx(trial.last_result["loss"])
        if expected == TrialState.PRUNED:
            last = trial.last_result
            assert stored.intermediate_values == {last["training_iteration"]: pytest.approx(last["loss"])}
    assert seen_states == {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}


def test_sqlite_study_holds_every_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    analysis = run_into(url, tmp_path)
    study = optuna.load_study(study_name="exp", storage=url)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    check_study(study, analysis)


def test_journal_file_study_holds_every_trial(tmp_path: Path) -> None:
    analysis = run_into(journal(tmp_path / "optuna.log"), tmp_path)
    check_study(optuna.load_study(study_name="exp", storage=journal(tmp_path / "optuna.log")), analysis)


def test_existing_study_is_continued_and_directions_must_match(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="old", storage=url).add_trial(optuna.trial.create_trial(
        params={"x": 1.0}, distributions={"x": optuna.distributions.FloatDistribution(-5, 5)}, value=0.0))
    run_into(url, tmp_path, study_name="old")
    assert len(optuna.load_study(study_name="old", storage=url).trials) == 13
    optuna.create_study(study_name="maxed", storage=url, direction="maximize")
    with pytest.raises(TuneError, match="directions"):
        OptunaSearch({"x": tunelab.uniform(0, 1)}, metric="loss", mode="min", storage=url,
                     study_name="maxed").suggest("t0")


def test_searcher_restored_from_an_older_snapshot_keeps_what_the_storage_holds(tmp_path: Path) -> None:
    """A resumed experiment's searcher comes from a snapshot taken before some trials were told; telling
    them again must not fail, and the storage keeps the first value."""
    import cloudpickle

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    searcher = OptunaSearch({"x": tunelab.uniform(0, 1)}, metric="loss", mode="min", storage=url, study_name="s")
    for trial_id in ("a", "b"):
        searcher.suggest(trial_id)
    snapshot = cloudpickle.dumps(searcher.save_state())
    searcher.on_trial_complete("a", {"loss": 1.0})
    searcher.on_trial_early_stopped("b", {"loss": 2.0, "training_iteration": 3})

    restored = OptunaSearch({"x": tunelab.uniform(0, 1)}, metric="loss", mode="min", storage=url, study_name="s")
    restored.restore_state(cloudpickle.loads(snapshot))
    restored.on_trial_complete("a", {"loss": 5.0})
    restored.on_trial_early_stopped("b", {"loss": 6.0, "training_iteration": 4})
    trials = {t.user_attrs["tunelab_trial_id"]: t for t in optuna.load_study(study_name="s", storage=url).trials}
    assert trials["a"].state == TrialState.COMPLETE and trials["a"].value == 1.0
    assert trials["b"].state == TrialState.PRUNED and trials["b"].intermediate_values == {3: 2.0}


@pytest.mark.parametrize("kwargs, match", [
    ({"storage": 3}, "storage must be"),
    ({"storage": "sqlite:///x.db", "study_name": ""}, "study_name must be"),
])
def test_bad_storage_arguments(kwargs, match) -> None:
    with pytest.raises(TuneError, match=match):
        OptunaSearch({"x": tunelab.uniform(0, 1)}, metric="loss", mode="min", **kwargs)
