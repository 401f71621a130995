"""A PBT exploit is journaled with the donor checkpoint the trial continues from: replaying the journal up
to an exploit (a kill right after it) rebuilds the trial with the new config and tag and the donor's
checkpoint, as the uninterrupted run had it, not with the trial's own older checkpoint."""
import os
import types

import tunelab as tune
from tunelab.schedulers import PopulationBasedTraining
from tunelab.storage import layout
from tunelab.storage.experiment_state import ExperimentState
from tunelab.storage.journal import Journal, decode


class Curve(tune.Trainable):
    def setup(self, config):
        self.t = 0

    def step(self):
        self.t += 1
        return {"score": self.config["q"] * self.t}

    def save_checkpoint(self, checkpoint_dir):
        return {"t": self.t}

    def load_checkpoint(self, state):
        self.t = state["t"]


def test_an_exploit_is_journaled_with_its_donor_checkpoint(tmp_path):
    scheduler = PopulationBasedTraining(time_attr="training_iteration", perturbation_interval=2,
                                        hyperparam_mutations={"q": tune.uniform(0, 1)}, seed=0)
    analysis = tune.run(Curve, name="pbt", local_dir=str(tmp_path), config={"q": tune.grid_search([0.1, 0.2, 0.8, 0.9])},
                        stop={"training_iteration": 10}, scheduler=scheduler, metric="score", mode="max", verbose=0)
    journal = Journal(str(tmp_path / "pbt"))
    events = journal.read()
    assert events[0]["version"] == layout.JOURNAL_VERSION
    exploits = [i for i, event in enumerate(events) if event[layout.EVENT] == layout.EXPLOIT]
    assert exploits, "PBT exploited nothing"
    first = events[exploits[0]]
    trials = {t.trial_id: t for t in analysis.trials}
    exploited = trials[first["trial_id"]]
    donor_dir = os.path.dirname(first["checkpoint"])
    assert donor_dir != exploited.logdir and donor_dir in {t.logdir for t in trials.values()}

    rebuilt, order, retained = {}, [], {}
    experiment = types.SimpleNamespace(stop=None, path=str(tmp_path / "pbt"), storage=None)
    for event in events[1: exploits[0] + 1]:  # the journal as a kill right after the exploit leaves it
        ExperimentState._replay(event, rebuilt, order, experiment, lambda path: path, retained)
    trial = rebuilt[first["trial_id"]]
    assert trial.checkpoint.path == first["checkpoint"]
    assert trial.config == decode(first["config"]) and "@perturbed" in trial.experiment_tag
