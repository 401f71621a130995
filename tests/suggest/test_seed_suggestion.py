"""The seed's SuggestionAlgorithm: throttling (behaviour 19), stalls (behaviour 32) and tags."""
from __future__ import annotations

import pytest

from tunelab.error import TuneError
from tunelab.suggest import SuggestionAlgorithm
from tunelab.suggest.searcher import _MockSuggestionAlgorithm


def test_max_concurrent_suggestions_throttle(make_experiment):
    searcher = _MockSuggestionAlgorithm(max_concurrent=4)
    searcher.add_configurations([make_experiment(num_samples=6)])
    trials = searcher.next_trials()
    assert len(trials) == 4
    assert searcher.next_trials() == []
    searcher.on_trial_complete(trials.pop().trial_id)
    assert len(searcher.next_trials()) == 1
    for _ in range(3):
        searcher.on_trial_complete(trials.pop().trial_id)
    assert len(searcher.next_trials()) == 1
    assert len(searcher.next_trials()) == 0
    assert searcher.is_finished()


def test_stalled_searcher_is_not_finished(make_experiment):
    searcher = _MockSuggestionAlgorithm(max_concurrent=1)
    searcher.add_configurations(make_experiment(num_samples=3))
    first = searcher.next_trial()
    searcher.on_trial_result(first.trial_id, {"training_iteration": 1})
    searcher.on_trial_complete(first.trial_id, {"training_iteration": 1})
    second = searcher.next_trial()
    assert second is not None and len(searcher.live_trials) == 1
    searcher.stall = True
    searcher.on_trial_complete(second.trial_id)
    assert searcher.next_trials() == []
    assert not searcher.is_finished()
    assert searcher.live_trials == {}
    searcher.stall = False
    third = searcher.next_trial()
    assert third is not None and searcher.is_finished()
    assert searcher.counter == {"result": 1, "complete": 2}


def test_nested_suggestion_tag():
    class Nested(SuggestionAlgorithm):
        def _suggest(self, trial_id):
            return {"a": {"b": {"c": {"d": 4, "e": 5}}}}

    searcher = Nested()
    searcher.add_configurations({"nested": {"run": _train_fn(), "num_samples": 2}})
    trials = searcher.next_trials()
    assert "d=4" in trials[0].experiment_tag and "e=5" in trials[0].experiment_tag
    assert [t.experiment_tag for t in trials] == ["1_d=4,e=5", "2_d=4,e=5"]
    assert trials[0].config == {"a": {"b": {"c": {"d": 4, "e": 5}}}}
    assert trials[0].trial_id.endswith("_00000") and trials[1].trial_id.endswith("_00001")
    assert trials[0].evaluated_params == {"a/b/c/d": 4, "a/b/c/e": 5}


def _train_fn():
    def nested_train(config):
        return None

    return nested_train


def test_own_max_concurrent_frees_slots_on_completion(make_experiment):
    class Constant(SuggestionAlgorithm):
        def _suggest(self, trial_id):
            return {"x": 1}

    searcher = Constant(max_concurrent=2)
    searcher.add_configurations(make_experiment(num_samples=5))
    trials = searcher.next_trials()
    assert len(trials) == 2
    searcher.on_trial_complete(trials[0].trial_id)
    assert len(searcher.next_trials()) == 1


def test_subclass_must_implement_suggest(make_experiment):
    searcher = SuggestionAlgorithm()
    searcher.add_configurations(make_experiment())
    with pytest.raises(TuneError, match="_suggest"):
        searcher.next_trials()


def test_bad_max_concurrent():
    with pytest.raises(TuneError, match="max_concurrent"):
        SuggestionAlgorithm(max_concurrent=0)
