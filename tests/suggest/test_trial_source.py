"""The one search interface (TrialSource), the shared live-trial cap, and searchers seeing copies only."""
from __future__ import annotations

import pytest

import tunelab as tune
from tunelab.error import TuneError
from tunelab.suggest import (
    BasicVariantGenerator,
    ConcurrencyLimiter,
    SearchAlgorithm,
    SearchGenerator,
    Searcher,
    SuggestionAlgorithm,
    TrialSource,
    to_search_algorithm,
)
from tunelab.suggest.concurrency import LiveTrialCap


class Mutating(Searcher):
    """Suggests x=0, 1, ... and scribbles over every result it is given, as a careless searcher might."""

    def __init__(self):
        super().__init__("score", "max")
        self.count = 0
        self.completed = []

    def suggest(self, trial_id):
        self.count += 1
        return {"x": self.count}

    def on_trial_result(self, trial_id, result):
        result["score"] = -1.0
        result.pop("training_iteration", None)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append(dict(result or {}))
        if result is not None:
            result.clear()


def test_every_search_api_is_a_trial_source():
    class Seed(SuggestionAlgorithm):
        def _suggest(self, trial_id):
            return {"a": 1}

    class Batch(SearchAlgorithm):
        pass

    for source in (BasicVariantGenerator(), Seed(), Batch(), to_search_algorithm(Mutating())):
        assert isinstance(source, TrialSource)
        assert to_search_algorithm(source) is source
    assert isinstance(to_search_algorithm(Mutating()), SearchGenerator)


def test_live_trial_cap_names_the_argument_and_counts_what_it_is_given():
    cap = LiveTrialCap(2, "X(max_concurrent=...)")
    assert not cap.is_full({"a"}) and cap.is_full({"a", "b"})
    cap.set_limit(0)  # 0 and None: no limit, where the argument allows them
    assert cap.limit is None and not cap.is_full(range(1000))
    with pytest.raises(TuneError, match=r"X\(max_concurrent=...\).*-1"):
        cap.set_limit(-1)
    with pytest.raises(TuneError, match=r"Y\(max_concurrent=...\).*0"):
        LiveTrialCap(0, "Y(max_concurrent=...)", minimum=1)
    with pytest.raises(TuneError, match=r"Z\(max_concurrent=...\).*None"):
        LiveTrialCap(None, "Z(max_concurrent=...)", allow_none=False)


def test_basic_variant_generator_max_concurrent_frees_a_slot_on_completion(make_experiment):
    generator = BasicVariantGenerator(max_concurrent=2)
    generator.add_configurations(make_experiment(num_samples=4))
    first, second = generator.next_trial(), generator.next_trial()
    assert first is not None and second is not None and generator.next_trial() is None
    generator.on_trial_complete(first.trial_id, {"score": 1})
    assert generator.next_trial() is not None and generator.next_trial() is None


def test_limiter_max_concurrent_is_validated_when_changed():
    limiter = ConcurrencyLimiter(Mutating(), max_concurrent=1)
    assert limiter.suggest("a") == {"x": 1} and limiter.suggest("b") is None
    limiter.max_concurrent = 2
    assert limiter.suggest("b") == {"x": 2}
    with pytest.raises(TuneError, match="ConcurrencyLimiter"):
        limiter.max_concurrent = 0


def test_generator_keeps_its_own_copy_of_results(make_experiment):
    searcher = Mutating()
    generator = SearchGenerator(searcher)
    generator.add_configurations(make_experiment(num_samples=1))
    trial = generator.next_trial()
    reported = {"score": 5.0, "training_iteration": 1}
    generator.on_trial_result(trial.trial_id, reported)
    assert reported == {"score": 5.0, "training_iteration": 1}
    generator.on_trial_complete(trial.trial_id, early_terminated=True)
    # the early stop is told with the last result as reported, not as the searcher changed it
    assert searcher.completed == [{"score": 5.0, "training_iteration": 1}]


def _three_steps(config):
    for step in range(3):
        tune.report(score=float(config["x"] * 10 + step))


def test_a_searcher_cannot_change_what_the_trials_recorded():
    searcher = Mutating()
    analysis = tune.run(_three_steps, search_alg=searcher, num_samples=2, verbose=0)
    assert sorted(t.last_result["score"] for t in analysis.trials) == [12.0, 22.0]
    assert all(t.last_result["training_iteration"] == 3 for t in analysis.trials)
    assert sorted(r["score"] for r in searcher.completed) == [12.0, 22.0]
