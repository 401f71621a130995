"""A driver that the persistence fault tests start, SIGKILL, corrupt and resume (no main guard needed).

argv: local_dir iterations resume [name]. A grid of 3 counters that checkpoint every iteration; each
result is {"i": iteration}. `PERSIST_SLEEP` sets the seconds per iteration; `PERSIST_NO_CHECKPOINTS=1`
makes the trials report no checkpoints (then only the driver writes files); `PERSIST_KEEP` sets
keep_checkpoints_num and `PERSIST_SCORE_ATTR` checkpoint_score_attr. Prints the trial statuses as
JSON on success; on a TuneError prints it to stderr and exits 3.
"""
import json
import os
import sys
import time

import tunelab as tune


def counter(config):
    ckpt = tune.get_checkpoint()
    start = ckpt.to_dict()["i"] if ckpt else 0
    pause = float(os.environ.get("PERSIST_SLEEP", "0.02"))
    checkpoints = not os.environ.get("PERSIST_NO_CHECKPOINTS")
    for i in range(start + 1, config["n"] + 1):
        time.sleep(pause)
        tune.report({"i": i}, checkpoint=tune.Checkpoint.from_dict({"i": i}) if checkpoints else None)


local_dir, iterations = sys.argv[1], int(sys.argv[2])
resume = {"True": True, "False": False}.get(sys.argv[3], sys.argv[3])
name = sys.argv[4] if len(sys.argv) > 4 else "exp"
tune.init(num_cpus=2)
retention = {}
if os.environ.get("PERSIST_KEEP"):
    retention["keep_checkpoints_num"] = int(os.environ["PERSIST_KEEP"])
if os.environ.get("PERSIST_SCORE_ATTR"):
    retention["checkpoint_score_attr"] = os.environ["PERSIST_SCORE_ATTR"]
try:
    analysis = tune.run(counter, name=name, local_dir=local_dir,
                        config={"a": tune.grid_search([1, 2, 3]), "n": iterations}, resume=resume, verbose=0,
                        **retention)
except tune.TuneError as exc:
    print(f"TuneError: {exc}", file=sys.stderr)
    sys.exit(3)
print(json.dumps({t.trial_id: t.status for t in analysis.trials}))
