"""tunelab.metrics as the one home of modes and of "best": the rules analysis, plots and the progress line share."""
from __future__ import annotations

import math

import pytest

from tunelab import metrics
from tunelab.error import TuneError
from tunelab.progress import best_trial_line
from tunelab.trial import Trial


@pytest.mark.parametrize("mode", ["minimize", "MAX", 1, ["min"]])
def test_check_mode_names_the_value_and_what_is_allowed(mode):
    with pytest.raises(TuneError) as info:
        metrics.check_mode(mode, "owner")
    message = str(info.value)
    assert message.startswith("owner: ") and repr(mode) in message and "'min' or 'max'" in message


def test_check_mode_none_only_where_allowed():
    assert metrics.check_mode(None) is None and metrics.check_mode("max") == "max"
    with pytest.raises(TuneError, match="got None"):
        metrics.check_mode(None, allow_none=False)


def test_best_of_skips_unusable_values_and_keeps_the_first_on_ties():
    scored = [("nan", math.nan), ("none", None), ("a", 2.0), ("b", 2.0), ("inf", math.inf), ("c", 1.0)]
    assert metrics.best_of(scored, "max") == ("a", 2.0)
    assert metrics.best_of(scored, "min") == ("c", 1.0)
    assert metrics.best_of(scored, "max", filter_inf=False) == ("inf", math.inf)
    assert metrics.best_of([("nan", math.nan)], "min") is None


def test_metric_number_reads_nested_keys_and_refuses_non_numbers():
    import numpy as np

    result = {"a": {"b": np.float32(0.5)}, "flag": True, "text": "1"}
    assert metrics.metric_number(result, "a/b") == 0.5
    assert metrics.metric_number(result, "flag") is None and metrics.metric_number(result, "text") is None
    assert metrics.metric_number(None, "a") is None


def test_progress_best_line_follows_the_same_rule():
    trials = [Trial("f", config={"i": i}) for i in range(3)]
    for trial, value in zip(trials, [math.nan, 3.0, 1.0]):
        trial.last_result = {"loss": value}
    assert "loss=1" in best_trial_line(trials, "loss", "min")
    assert "loss=3" in best_trial_line(trials, "loss", "max")
    assert best_trial_line(trials[:1], "loss", "min") is None
