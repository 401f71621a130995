"""The status block, its truncation, and the ProgressReporter's printing rules."""
from __future__ import annotations

import io
import math
import time

import yaml

from tunelab.progress import ProgressReporter, natural_key, pretty_print, select_trials, status_text
from tunelab.trial import Trial


def make_trial(tag: str, status: str, **last) -> Trial:
    trial = Trial("train_func", {}, experiment_tag=tag)
    trial.status = status
    trial.last_result = last
    return trial


SEED_TRIALS = [
    ("0_lr=0.2,momentum=1", Trial.RUNNING, dict(pid=6778, time_total_s=209.4, training_iteration=20, timesteps_total=20604, mean_accuracy=7.29)),
    ("1_lr=0.4,momentum=1", Trial.RUNNING, dict(pid=6779, time_total_s=208.0, training_iteration=20, timesteps_total=20604, mean_accuracy=6.0)),
    ("10_lr=0.6,momentum=1", Trial.TERMINATED, dict(pid=6789, time_total_s=21.2, training_iteration=40, timesteps_total=2190, mean_accuracy=101)),
    ("2_lr=0.2,momentum=2", Trial.TERMINATED, dict(pid=6790, time_total_s=20.0, training_iteration=40, timesteps_total=2000, mean_accuracy=100)),
    ("3_lr=0.4,momentum=2", Trial.TERMINATED, {}),
    ("4_lr=0.6,momentum=2", Trial.TERMINATED, {}),
]


def test_status_text_matches_the_seed_block():
    trials = [make_trial(tag, status, **last) for tag, status, last in SEED_TRIALS]
    text = status_text(trials, "Using FIFO scheduling algorithm.", "4/8 CPUs, 0/0 GPUs", ["/home/x/tunelab_results/my_experiment"])
    assert text == "\n".join(
        [
            "== Status ==",
            "Using FIFO scheduling algorithm.",
            "Resources requested: 4/8 CPUs, 0/0 GPUs",
            "Result logdir: /home/x/tunelab_results/my_experiment",
            "Number of trials: 6 (2 RUNNING, 4 TERMINATED)",
            "RUNNING trials:",
            " - train_func_0_lr=0.2,momentum=1:\tRUNNING [pid=6778], 209 s, 20 iter, 20604 ts, 7.29 acc",
            " - train_func_1_lr=0.4,momentum=1:\tRUNNING [pid=6779], 208 s, 20 iter, 20604 ts, 6 acc",
            "TERMINATED trials:",
            " - train_func_2_lr=0.2,momentum=2:\tTERMINATED [pid=6790], 20 s, 40 iter, 2000 ts, 100 acc",
            " - train_func_3_lr=0.4,momentum=2:\tTERMINATED",
            " - train_func_4_lr=0.6,momentum=2:\tTERMINATED",
            " - train_func_10_lr=0.6,momentum=1:\tTERMINATED [pid=6789], 21 s, 40 iter, 2190 ts, 101 acc",
        ]
    )


def test_natural_key_orders_numbers_by_value():
    assert sorted(["10_a", "2_a", "1_b", "1_a"], key=natural_key) == ["1_a", "1_b", "2_a", "10_a"]


def test_long_lists_show_head_and_tail_with_a_count():
    trials = [make_trial(str(i), Trial.PENDING) for i in range(30)]
    lines = status_text(trials, "", "", [], max_trials=20).splitlines()
    shown = [line for line in lines if line.startswith(" - ")]
    assert len(shown) == 20
    assert shown[0].startswith(" - train_func_0:") and shown[9].startswith(" - train_func_9:")
    assert lines[lines.index(shown[9]) + 1] == "  ... 10 not shown"
    assert shown[10].startswith(" - train_func_20:") and shown[-1].startswith(" - train_func_29:")


def test_limit_is_split_fairly_across_states():
    trials = [make_trial(str(i), Trial.TERMINATED) for i in range(50)]
    trials += [make_trial(str(100 + i), Trial.RUNNING) for i in range(3)]
    trials += [make_trial(str(200 + i), Trial.PENDING) for i in range(40)]
    sections = {s.state: s for s in select_trials(trials, 20)}
    assert len(sections[Trial.RUNNING].head) + len(sections[Trial.RUNNING].tail) == 3
    shown = {state: len(s.head) + len(s.tail) for state, s in sections.items()}
    assert shown == {Trial.PENDING: 9, Trial.RUNNING: 3, Trial.TERMINATED: 8}
    assert sections[Trial.PENDING].hidden == 31 and sections[Trial.TERMINATED].hidden == 42


def test_status_text_is_fast_for_10000_trials():
    states = [Trial.PENDING, Trial.RUNNING, Trial.TERMINATED, Trial.ERROR, Trial.PAUSED]
    trials = [make_trial(f"{i}_lr={i / 7:.3f}", states[i % 5], training_iteration=i) for i in range(10_000)]
    start = time.perf_counter()
    text = status_text(trials, "Using FIFO scheduling algorithm.", "4/8 CPUs, 0/0 GPUs", ["/tmp/x"])
    assert time.perf_counter() - start < 0.5
    assert "Number of trials: 10000 (2000 ERROR, 2000 PAUSED, 2000 PENDING, 2000 RUNNING, 2000 TERMINATED)" in text
    assert sum(line.startswith(" - ") for line in text.splitlines()) == 20


def test_pretty_print_drops_config_and_none():
    text = pretty_print({"mean_loss": float("inf"), "config": {"a": 1}, "timesteps_total": None, "nested": {"x": 1}})
    assert yaml.safe_load(text) == {"mean_loss": math.inf, "nested": {"x": 1}}


INFO = {"scheduler_debug": "Using FIFO scheduling algorithm.", "resources_used": "1/2 CPUs, 0/0 GPUs", "result_dirs": ["/r"]}


def test_reporter_prints_status_at_most_every_interval_and_at_the_end():
    out = io.StringIO()
    reporter = ProgressReporter(verbose=1, out=out, print_interval_s=60)
    trials = [make_trial("0", Trial.RUNNING)]
    reporter.report(trials, done=False, info=INFO)
    reporter.report(trials, done=False, info=INFO)
    assert out.getvalue().count("== Status ==") == 1
    reporter.report(trials, done=True, info=INFO)
    assert out.getvalue().count("== Status ==") == 2
    assert "Result logdir: /r" in out.getvalue()


def test_verbose_zero_is_silent():
    out = io.StringIO()
    reporter = ProgressReporter(verbose=0, out=out)
    trial = make_trial("0", Trial.RUNNING)
    reporter.report([trial], done=True, info=INFO)
    reporter.on_trial_result(0, [trial], trial, {"done": True, "training_iteration": 1})
    assert out.getvalue() == ""


def test_verbose_two_throttles_results_but_always_prints_the_final_one():
    out = io.StringIO()
    reporter = ProgressReporter(verbose=2, out=out, result_interval_s=60)
    trial = make_trial("0", Trial.RUNNING)
    for i in (1, 2, 3):
        reporter.on_trial_result(0, [trial], trial, {"training_iteration": i, "done": False})
    reporter.on_trial_result(0, [trial], trial, {"training_iteration": 4, "done": True})
    assert out.getvalue().count("Result for train_func_0:") == 2
    assert "training_iteration: 4" in out.getvalue()
    reporter.on_trial_complete(0, [trial], trial)
    assert not reporter._last_result_print


def test_verbose_three_prints_every_result():
    out = io.StringIO()
    reporter = ProgressReporter(verbose=3, out=out, result_interval_s=60)
    trial = make_trial("0", Trial.RUNNING)
    for i in (1, 2, 3):
        reporter.on_trial_result(0, [trial], trial, {"training_iteration": i})
    assert out.getvalue().count("Result for train_func_0:") == 3


def test_live_table_renders_trials_metrics_and_progress():
    out = io.StringIO()
    reporter = ProgressReporter(verbose=1, out=out, live=True, metric="mean_accuracy", mode="max")
    trials = [make_trial(str(i), Trial.RUNNING, training_iteration=i, time_total_s=1.5, mean_accuracy=i / 10) for i in range(3)]
    reporter.report(trials, done=False, info=dict(INFO, total_trials=3))
    for trial in trials:
        trial.status = Trial.TERMINATED
        reporter.on_trial_result(0, trials, trial, trial.last_result)
    reporter.report(trials, done=True, info=dict(INFO, total_trials=3))
    text = out.getvalue()
    for needle in ("train_func_2", "TERMINATED", "mean_accuracy", "3/3", "Current best trial: train_func_2"):
        assert needle in text
    assert reporter._view is None
