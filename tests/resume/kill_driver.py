"""A driver script that the resume tests start and SIGKILL at random instants (no main guard needed)."""
import json
import sys

import tunelab as tune


class Decay(tune.Trainable):
    """Deterministic: x <- 0.99 x + a, so any result can be checked against the closed form."""

    def setup(self, config):
        self.x = 0.0

    def step(self):
        import time

        time.sleep(0.02)
        self.x = 0.99 * self.x + self.config["a"]
        return {"x": self.x}

    def save_checkpoint(self, checkpoint_dir):
        return {"x": self.x}

    def load_checkpoint(self, state):
        self.x = state["x"]


def counter(config):
    import time

    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(start + 1, config["n"] + 1):
        time.sleep(0.02)
        tune.report({"i": i, "value": i * config["a"]}, checkpoint=tune.Checkpoint.from_dict({"i": i}))


local_dir, kind, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
tune.init(num_cpus=2)
if kind == "class":
    analysis = tune.run(Decay, name="killed", local_dir=local_dir, config={"a": tune.grid_search([1.0, 2.0, 3.0, 4.0])},
                        stop={"training_iteration": iterations}, checkpoint_freq=3, resume="AUTO", verbose=0)
else:
    analysis = tune.run(counter, name="killed", local_dir=local_dir,
                        config={"a": tune.grid_search([1, 2, 3]), "n": iterations}, resume="AUTO", verbose=0)
print(json.dumps({t.trial_id: t.status for t in analysis.trials}))
