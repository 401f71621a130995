"""One driver per experiment folder: a second driver (a requeued batch job with resume="AUTO") is refused
with a TuneError naming the first one's pid and host; the lock dies with its driver (real SIGKILL) and is
released when tune.run returns, errors included."""
import fcntl
import os
import socket
import time

import pytest
from persist_tools import assert_exact, finish, kill_after, run, start

import tunelab as tune

ITERATIONS = 30


def _lock_is_free(exp_dir):
    fd = os.open(os.path.join(exp_dir, ".tunelab", "lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


@pytest.mark.timeout(90)
def test_second_driver_is_refused_and_the_first_finishes_exactly(tmp_path):
    exp = tmp_path / "exp"
    first = start(tmp_path, ITERATIONS, sleep=0.15)  # runs for seconds: long enough to be caught running
    try:
        deadline = time.monotonic() + 60
        while not list(exp.glob("*/result.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None
        code, _out, err = run(tmp_path, ITERATIONS, resume="AUTO")  # the requeued job
        assert code == 3, err[-2000:]
        assert f"pid {first.pid} on host {socket.gethostname()}" in err
    finally:
        code, _out, err = finish(first)
    assert code == 0, err[-3000:]
    assert_exact(exp, ITERATIONS)  # no interleaved histories


@pytest.mark.timeout(90)
def test_the_lock_dies_with_a_sigkilled_driver(tmp_path):
    exp = tmp_path / "exp"
    kill_after(start(tmp_path, ITERATIONS), exp, rows=10)
    assert _lock_is_free(exp)
    code, _out, err = run(tmp_path, ITERATIONS, resume="AUTO")  # at once, no stale lock to wait for
    assert code == 0, err[-3000:]
    assert_exact(exp, ITERATIONS)


def _count(config):
    for i in range(3):
        tune.report(i=i)


@pytest.mark.timeout(60)
def test_the_lock_is_released_when_run_returns_or_raises(tmp_path):
    class Broken(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            raise RuntimeError("callback bug")

    with pytest.raises(tune.TuneError, match="callback bug"):
        tune.run(_count, name="locked", local_dir=str(tmp_path), callbacks=[Broken()], verbose=0)
    assert _lock_is_free(tmp_path / "locked")
    tune.run(_count, name="locked", local_dir=str(tmp_path), resume=True, verbose=0)
    assert _lock_is_free(tmp_path / "locked")
    with pytest.raises(tune.TuneError, match="search space changed"):  # an error before anything runs
        tune.run(_count, name="locked", local_dir=str(tmp_path), config={"x": 1}, resume=True, verbose=0)
    assert _lock_is_free(tmp_path / "locked")


@pytest.mark.timeout(60)
def test_a_driver_in_the_same_process_is_refused_too(tmp_path):
    from tunelab.storage.lock import ExperimentLock

    holder = ExperimentLock(str(tmp_path / "busy" / ".tunelab"))
    holder.acquire()
    try:
        with pytest.raises(tune.TuneError, match=f"pid {os.getpid()} on host"):
            tune.run(_count, name="busy", local_dir=str(tmp_path), verbose=0)
    finally:
        holder.release()
    tune.run(_count, name="busy", local_dir=str(tmp_path), verbose=0)
