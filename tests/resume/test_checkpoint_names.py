"""Checkpoint folders are `checkpoint_<iteration>` (the 2018 Ray Tune name), ordered numerically, and
folders in the zero-padded form earlier tunelab versions wrote (`checkpoint_000003`) still restore/resume."""
import os

import tunelab as tune
from tunelab.analysis import ExperimentAnalysis
from tunelab.trainable.checkpoint import checkpoint_dir_iteration, checkpoint_dir_name
from tunelab.trial import Trial


class Counter(tune.Trainable):
    def setup(self, config):
        self.count = 0

    def step(self):
        self.count += 1
        if self.count == self.config.get("fail_at"):
            raise RuntimeError("planned failure")
        return {"count": self.count}

    def save_checkpoint(self, checkpoint_dir):
        return {"count": self.count}

    def load_checkpoint(self, state):
        self.count = state["count"]


def _checkpoint_dirs(logdir):
    return sorted((d for d in os.listdir(logdir) if checkpoint_dir_iteration(d) is not None),
                  key=checkpoint_dir_iteration)


def test_names_and_parsing():
    assert checkpoint_dir_name(3) == "checkpoint_3"
    assert checkpoint_dir_iteration("checkpoint_3") == 3
    assert checkpoint_dir_iteration("checkpoint_000003") == 3
    assert checkpoint_dir_iteration("/a/b/checkpoint_12/") == 12
    assert checkpoint_dir_iteration("checkpoint_x") is None
    assert checkpoint_dir_iteration(".tmp_checkpoint_3_abc") is None


def test_folders_are_unpadded_and_retention_is_numeric(tmp_path):
    analysis = tune.run(Counter, stop={"training_iteration": 11}, checkpoint_freq=1, checkpoint_at_end=True,
                        keep_checkpoints_num=2,
                        local_dir=str(tmp_path), verbose=0)
    [trial] = analysis.trials
    # by training_iteration the best two are 10 and 11, which a lexical sort would put before 9
    assert _checkpoint_dirs(trial.logdir) == ["checkpoint_10", "checkpoint_11"]
    assert os.path.basename(trial.checkpoint.path) == "checkpoint_11"
    reloaded = ExperimentAnalysis(os.path.dirname(trial.logdir))
    assert os.path.basename(reloaded.get_last_checkpoint(reloaded.trials[0]).path) == "checkpoint_11"


def test_function_trainable_checkpoints_use_the_same_name(tmp_path):
    def train(config):
        for i in range(3):
            tune.report({"i": i}, checkpoint=tune.Checkpoint.from_dict({"i": i}))

    [trial] = tune.run(train, local_dir=str(tmp_path), verbose=0).trials
    assert _checkpoint_dirs(trial.logdir) == ["checkpoint_1", "checkpoint_2", "checkpoint_3"]


def _to_old_names(trial_dir, experiment_dir):
    """Make a finished experiment look as the earlier version wrote it: padded folder names everywhere."""
    renames = {}
    for name in os.listdir(trial_dir):
        iteration = checkpoint_dir_iteration(name)
        if iteration is not None:
            old = f"checkpoint_{iteration:06d}"
            os.rename(os.path.join(trial_dir, name), os.path.join(trial_dir, old))
            renames[name] = old
    for root, _, files in os.walk(experiment_dir):
        for file in files:
            if file.endswith((".jsonl", ".json")):
                path = os.path.join(root, file)
                text = open(path).read()
                for new, old in sorted(renames.items(), key=lambda kv: -len(kv[0])):
                    text = text.replace(f"{new}\"", f"{old}\"").replace(f"{new}/", f"{old}/")
                open(path, "w").write(text)
    return renames


def test_restore_and_resume_accept_the_old_padded_names(tmp_path):
    tune.register_trainable("NamedCounter", Counter)
    first = tune.run("NamedCounter", name="old", config={"fail_at": 4}, checkpoint_freq=1, local_dir=str(tmp_path),
                     stop={"training_iteration": 6}, verbose=0, raise_on_failed_trial=False)
    [trial] = first.trials
    assert trial.status == Trial.ERROR
    renames = _to_old_names(trial.logdir, str(tmp_path / "old"))
    assert renames["checkpoint_3"] == "checkpoint_000003"

    # a user's restore= path in the old form
    restored = tune.run(Counter, stop={"training_iteration": 5}, local_dir=str(tmp_path / "restored"), verbose=0,
                        restore=os.path.join(trial.logdir, "checkpoint_000003"))
    assert restored.trials[0].last_result["count"] == 5
    assert restored.trials[0].last_result["training_iteration"] == 5

    # the old experiment resumes its errored trial from checkpoint_000003 (with code that no longer fails)
    class Fixed(Counter):
        def step(self):
            self.count += 1
            return {"count": self.count}

    tune.register_trainable("NamedCounter", Fixed)
    resumed = tune.run("NamedCounter", name="old", config={"fail_at": 4}, checkpoint_freq=1, local_dir=str(tmp_path),
                       stop={"training_iteration": 6}, verbose=0, resume="RESUME_ERRORED")
    [again] = resumed.trials
    assert again.trial_id == trial.trial_id and again.status == Trial.TERMINATED
    assert again.last_result["count"] == 6
    assert again.last_result["iterations_since_restore"] == 3  # continued from iteration 3, not from scratch
