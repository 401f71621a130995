"""A driver that the S3 storage tests start (and SIGKILL mid-run): tune.run with storage_path=s3://...

argv: local_dir storage_path kind iterations [resume]. Prints the trials' statuses as JSON at the end."""
import json
import sys
import time

import tunelab as tune


def counter(config):
    """Reports a checkpoint every iteration; `resumed_from` says where this run of the function started."""
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    for i in range(start + 1, config["n"] + 1):
        time.sleep(config["sleep"])
        tune.report({"i": i, "value": i * config["a"], "resumed_from": start},
                    checkpoint=tune.Checkpoint.from_dict({"i": i}))


class Kept(tune.Trainable):
    """A class trainable whose checkpoints `keep_checkpoints_num` prunes."""

    def setup(self, config):
        self.x = 0

    def step(self):
        time.sleep(self.config["sleep"])
        self.x += 1
        return {"x": self.x, "score": -abs(self.x - self.config["best_at"])}

    def save_checkpoint(self, checkpoint_dir):
        return {"x": self.x}

    def load_checkpoint(self, state):
        self.x = state["x"]


if __name__ == "__main__":
    local_dir, storage_path, kind, iterations = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    resume = len(sys.argv) > 5 and sys.argv[5] == "resume"
    sleep = float(sys.argv[6]) if len(sys.argv) > 6 else 0.05
    tune.init(num_cpus=3)
    if kind in ("tuner", "tuner-restore"):  # Ray 2.x's API: RunConfig(storage_path=URI), Tuner.restore(URI)
        from tunelab import train

        if kind == "tuner":
            tuner = tune.Tuner(counter, param_space={"a": tune.grid_search([1, 2]), "n": iterations, "sleep": sleep},
                               tune_config=tune.TuneConfig(metric="value", mode="max"),
                               run_config=train.RunConfig(name="tuned", storage_path=storage_path, verbose=1))
        else:
            uri = f"{storage_path}/tuned"
            print(json.dumps({"can_restore": tune.Tuner.can_restore(uri)}))
            tuner = tune.Tuner.restore(uri, trainable=counter)
        grid = tuner.fit()
        print(json.dumps({"statuses": [r.error is None for r in grid], "last": [r.metrics["i"] for r in grid]}))
        sys.exit(0)
    if kind == "function":
        analysis = tune.run(counter, name="s3exp", local_dir=local_dir, storage_path=storage_path,
                            config={"a": tune.grid_search([1, 2, 3]), "n": iterations, "sleep": sleep},
                            resume=resume, verbose=1, raise_on_failed_trial=False)
    else:
        analysis = tune.run(Kept, name="s3exp", local_dir=local_dir, storage_path=storage_path,
                            config={"best_at": tune.grid_search([3, 7]), "sleep": sleep},
                            stop={"training_iteration": iterations}, checkpoint_freq=1, keep_checkpoints_num=2,
                            checkpoint_score_attr="score", resume=resume, verbose=1)
    print(json.dumps({t.trial_id: t.status for t in analysis.trials}))
