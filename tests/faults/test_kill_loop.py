"""The driver SIGKILLed again and again at random instants (start-up, journal creation, mid-write,
between trials), resumed with resume="AUTO" each time: at every point the histories are gap-free
prefixes, and at the end every trial holds exactly 1..N once, in result.json and progress.csv."""
import random
import signal
import time

import pytest
from persist_tools import GRID, assert_exact, finish, histories, start

ITERATIONS = 30


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [11, 12])
def test_random_kills_then_exact_histories(tmp_path, seed):
    rng = random.Random(seed)
    exp = tmp_path / "exp"
    kills = 0
    for _ in range(6):
        proc = start(tmp_path, ITERATIONS, resume="AUTO")
        time.sleep(rng.uniform(0.05, 1.2))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        for trial_dir, rows in histories(exp, strict=False).items():  # never a duplicate or a gap
            assert rows == list(range(1, len(rows) + 1)), (trial_dir, rows)
    code, out, err = finish(start(tmp_path, ITERATIONS, resume="AUTO"))
    assert code == 0, err[-3000:]
    assert kills >= 3
    assert len(out.strip().splitlines()[-1].split("TERMINATED")) == GRID + 1
    assert_exact(exp, ITERATIONS)
