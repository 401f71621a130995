"""ConcurrencyLimiter and Repeater: how they gate suggestions and what the wrapped searcher hears."""
from __future__ import annotations

import pytest

from tunelab.error import TuneError
from tunelab.suggest import ConcurrencyLimiter, OptunaSearch, Repeater, SearchGenerator, Searcher
from tunelab.suggest.domains import uniform


class Counting(Searcher):
    """Suggests {"n": 0}, {"n": 1}, ... and records completions."""

    def __init__(self, metric="score", mode="max"):
        super().__init__(metric, mode)
        self.n = 0
        self.completed = []
        self.early = []
        self.results = []

    def suggest(self, trial_id):
        self.n += 1
        return {"n": self.n - 1}

    def on_trial_result(self, trial_id, result):
        self.results.append(trial_id)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))

    def on_trial_early_stopped(self, trial_id, result):
        self.early.append((trial_id, result))


# -- ConcurrencyLimiter ----------------------------------------------------------------------------
def test_limiter_caps_live_trials():
    inner = Counting()
    limiter = ConcurrencyLimiter(inner, max_concurrent=2)
    assert limiter.suggest("a") == {"n": 0} and limiter.suggest("b") == {"n": 1}
    assert limiter.suggest("c") is None
    assert inner.n == 2  # the inner searcher was not asked while full
    limiter.on_trial_result("a", {"score": 1})
    limiter.on_trial_complete("a", {"score": 1})
    assert limiter.suggest("c") == {"n": 2}
    assert inner.completed == [("a", {"score": 1}, False)] and inner.results == ["a"]
    limiter.on_trial_complete("unknown", {"score": 1})
    assert len(inner.completed) == 1


def test_limiter_forwards_early_stops():
    inner = Counting()
    limiter = ConcurrencyLimiter(inner, max_concurrent=1)
    limiter.suggest("a")
    limiter.on_trial_early_stopped("a", {"score": 2})
    assert inner.early == [("a", {"score": 2})]
    assert limiter.suggest("b") is not None


def test_limiter_batch_mode_waits_for_the_whole_batch():
    inner = Counting()
    limiter = ConcurrencyLimiter(inner, max_concurrent=3, batch=True)
    for trial_id in "abc":
        limiter.suggest(trial_id)
    limiter.on_trial_complete("a", {"score": 1})
    limiter.on_trial_complete("b", error=True)
    assert inner.completed == [] and limiter.suggest("d") is None
    limiter.on_trial_early_stopped("c", {"score": 3})
    assert [c[0] for c in inner.completed] == ["a", "b"] and inner.early == [("c", {"score": 3})]
    assert limiter.suggest("d") is not None


def test_limiter_delegates_metric_mode_and_space():
    inner = OptunaSearch(seed=0)
    limiter = ConcurrencyLimiter(inner, max_concurrent=2)
    assert limiter.set_search_properties("loss", "min", {"x": uniform(0, 1)})
    assert (limiter.metric, limiter.mode) == ("loss", "min")
    assert 0 <= limiter.suggest("a")["x"] <= 1


@pytest.mark.parametrize("value", [0, -1, 1.5, True, None])
def test_limiter_rejects_bad_max_concurrent(value):
    with pytest.raises(TuneError, match="max_concurrent"):
        ConcurrencyLimiter(Counting(), max_concurrent=value)


def test_limiter_through_search_generator(make_experiment):
    generator = SearchGenerator(ConcurrencyLimiter(Counting(), max_concurrent=2))
    generator.add_configurations(make_experiment(num_samples=5))
    trials = generator.next_trials()
    assert len(trials) == 2
    generator.on_trial_complete(trials[0].trial_id, {"score": 1})
    assert len(generator.next_trials()) == 1


# -- Repeater --------------------------------------------------------------------------------------
def test_repeater_runs_each_config_repeat_times_with_index():
    inner = Counting()
    repeater = Repeater(inner, repeat=3)
    configs = [repeater.suggest(f"t{i}") for i in range(6)]
    assert configs == [{"n": 0, "__trial_index__": 0}, {"n": 0, "__trial_index__": 1}, {"n": 0, "__trial_index__": 2},
                       {"n": 1, "__trial_index__": 0}, {"n": 1, "__trial_index__": 1}, {"n": 1, "__trial_index__": 2}]
    assert inner.n == 2


def test_repeater_reports_the_average_once_per_group():
    inner = Counting()
    repeater = Repeater(inner, repeat=3)
    for i in range(3):
        repeater.suggest(f"t{i}")
    repeater.on_trial_complete("t0", {"score": 1.0})
    repeater.on_trial_complete("t1", {"score": 2.0})
    assert inner.completed == []
    repeater.on_trial_complete("t2", error=True)
    assert inner.completed == [("t0", {"score": 1.5}, False)]


def test_repeater_counts_an_all_failed_group_as_error():
    inner = Counting()
    repeater = Repeater(inner, repeat=2)
    repeater.suggest("a")
    repeater.suggest("b")
    repeater.on_trial_complete("a", error=True)
    repeater.on_trial_early_stopped("b", {"training_iteration": 1})
    assert inner.completed == [("a", None, True)]


def test_repeater_averages_each_objective_and_needs_the_metric():
    inner = Counting(metric=["a", "b"], mode=["min", "max"])
    repeater = Repeater(inner, repeat=2, set_index=False)
    assert repeater.suggest("x") == {"n": 0}
    repeater.suggest("y")
    repeater.on_trial_complete("x", {"a": 1.0, "b": 4.0})
    repeater.on_trial_complete("y", {"a": 3.0, "b": 6.0})
    assert inner.completed == [("x", {"a": 2.0, "b": 5.0}, False)]
    repeater.suggest("z")
    with pytest.raises(TuneError, match="without reporting the metric"):
        repeater.on_trial_complete("z", {"c": 1.0})


def test_repeater_passes_throttling_through():
    class Throttled(Counting):
        def suggest(self, trial_id):
            return None

    assert Repeater(Throttled(), repeat=2).suggest("a") is None
    with pytest.raises(TuneError, match="repeat"):
        Repeater(Counting(), repeat=0)


def test_repeater_with_a_real_searcher_and_limiter(drive):
    inner = OptunaSearch({"x": uniform(-1, 1)}, metric="loss", mode="min", seed=0)
    searcher = ConcurrencyLimiter(Repeater(inner, repeat=2), max_concurrent=4)
    history = drive(searcher, lambda c: {"loss": c["x"] ** 2 + 0.01 * c["__trial_index__"]}, 10)
    assert [c["__trial_index__"] for c, _ in history] == [0, 1] * 5
    assert len(inner._study.trials) == 5
    told = [t.value for t in inner._study.trials]
    assert told[0] == pytest.approx(history[0][0]["x"] ** 2 + 0.005)
