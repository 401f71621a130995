"""`keep_checkpoints_num` across a driver kill: retention is journaled and rebuilt on resume, so the
resumed experiment keeps exactly the checkpoints an uninterrupted one keeps (none from before the kill
is left behind), by the newest iterations or by the best score as configured."""
import os

import pytest
from persist_tools import assert_exact, kill_after, run, start, trial_dirs

ITERATIONS = 20


def _checkpoint_folders(trial_dir):
    return sorted((d for d in os.listdir(trial_dir) if d.startswith("checkpoint_")),
                  key=lambda d: int(d.rsplit("_", 1)[1]))


@pytest.mark.timeout(90)
@pytest.mark.parametrize("score_attr, kept", [
    (None, ["checkpoint_19", "checkpoint_20"]),  # the default score, training_iteration: the newest two
    ("min-i", ["checkpoint_1", "checkpoint_2", "checkpoint_20"]),  # the best two by min i, and the newest
])
def test_retention_after_a_driver_kill_matches_an_uninterrupted_run(tmp_path, score_attr, kept):
    env = {"PERSIST_KEEP": "2"}
    if score_attr:
        env["PERSIST_SCORE_ATTR"] = score_attr
    exp = tmp_path / "exp"
    proc = start(tmp_path, ITERATIONS, sleep=0.05, **env)
    kill_after(proc, exp, rows=3 * 6)  # every trial is past its first checkpoints: retention has deleted some
    code, _out, err = run(tmp_path, ITERATIONS, sleep=0.01, **env)
    assert code == 0, err[-3000:]
    assert_exact(exp, ITERATIONS)
    for trial_dir in trial_dirs(exp):
        assert _checkpoint_folders(trial_dir) == kept, trial_dir
