"""Searcher base behaviour, SearchGenerator (trials from suggestions) and the search-space helpers."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tunelab.error import TuneError
from tunelab.suggest import SearchGenerator, Searcher, to_search_algorithm
from tunelab.suggest.basic_variant import BasicVariantGenerator
from tunelab.suggest.domains import choice, grid_search, randint, sample_from, uniform
from tunelab.suggest.space import deep_merge, point_to_params, sampled_domains


class Recorder(Searcher):
    """Suggests from a list and records what it hears."""

    def __init__(self, suggestions, metric="score", mode="max"):
        super().__init__(metric, mode)
        self.suggestions = list(suggestions)
        self.completed = []
        self.early = []
        self.results = []
        self.space = None

    def suggest(self, trial_id):
        return self.suggestions.pop(0) if self.suggestions else None

    def on_trial_result(self, trial_id, result):
        self.results.append((trial_id, result))

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))

    def on_trial_early_stopped(self, trial_id, result):
        self.early.append((trial_id, result))


class TakesSpace(Recorder):
    def set_search_properties(self, metric, mode, config=None):
        self._adopt_metric_mode(metric, mode)
        domains = sampled_domains(config or {})
        if domains and self.space is not None:
            return False
        if domains:
            self.space = domains
        return True


# -- Searcher base ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["minimize", "MAX", 1])
def test_bad_mode_names_value_and_allowed(mode):
    with pytest.raises(TuneError) as info:
        Recorder([], mode=mode)
    assert repr(mode) in str(info.value) and "'min'" in str(info.value) and "'max'" in str(info.value)


def test_metric_lists_need_as_many_modes():
    with pytest.raises(TuneError, match="need as many modes"):
        Recorder([], metric=["a", "b"], mode=["min"])
    assert Recorder([], metric=["a", "b"], mode="max").mode == ["max", "max"]
    with pytest.raises(TuneError, match="list of metrics"):
        Recorder([], metric="a", mode=["min", "max"])


def test_base_suggest_tells_implementer_to_override():
    with pytest.raises(TuneError, match="override suggest"):
        Searcher().suggest("t")
    with pytest.raises(TuneError, match="add_evaluated_point"):
        Searcher().add_evaluated_point({"x": 1}, 1.0)


def test_set_search_properties_adopts_missing_metric_mode_only():
    searcher = Recorder([], metric=None, mode=None)
    assert searcher.set_search_properties("loss", "min")
    assert (searcher.metric, searcher.mode) == ("loss", "min")
    assert searcher.set_search_properties("other", "max")
    assert (searcher.metric, searcher.mode) == ("loss", "min")
    assert not searcher.set_search_properties(None, None, {"x": uniform(0, 1)})


def test_default_early_stop_is_completion_or_error():
    class Plain(Searcher):
        def __init__(self):
            super().__init__("score", "max")
            self.seen = []

        def on_trial_complete(self, trial_id, result=None, error=False):
            self.seen.append((trial_id, error))

    searcher = Plain()
    searcher.on_trial_early_stopped("a", {"score": 1})
    searcher.on_trial_early_stopped("b", {"other": 1})
    assert searcher.seen == [("a", False), ("b", True)]


def test_save_and_restore_file(tmp_path):
    searcher = Recorder([{"x": 1}, {"x": 2}])
    searcher.suggest("t0")
    path = str(tmp_path / "sub" / "searcher.pkl")
    searcher.save(path)
    fresh = Recorder([])
    fresh.restore(path)
    assert fresh.suggest("t1") == {"x": 2}
    assert fresh.metric == "score"


# -- SearchGenerator -------------------------------------------------------------------------------
def test_generator_builds_trials_from_suggestions(make_experiment):
    searcher = Recorder([{"lr": 0.1, "net": {"width": 4}}, {"lr": 0.2, "net": {"width": 8}}])
    generator = SearchGenerator(searcher)
    generator.add_configurations(make_experiment({"net": {"depth": 3}, "lr": 1.0}, num_samples=2))
    first, second = generator.next_trials()
    assert first.config == {"lr": 0.1, "net": {"depth": 3, "width": 4}}
    assert first.experiment_tag == "1_lr=0.1,width=4"
    assert second.experiment_tag == "2_lr=0.2,width=8"
    assert first.evaluated_params == {"lr": 0.1, "net/width": 4}
    assert first.trial_id.split("_")[0] == second.trial_id.split("_")[0]
    assert generator.is_finished()
    assert generator.next_trial() is None


def test_generator_resolves_lambdas_after_merging(make_experiment):
    config = {"x": 3, "double": sample_from(lambda spec: spec.config.x * 2), "eval": {"eval": "2 + 2"}}
    generator = SearchGenerator(Recorder([{"x": 5}]))
    generator.add_configurations(make_experiment(config))
    trial = generator.next_trial()
    assert trial.config == {"x": 5, "double": 10, "eval": 4}
    assert "double=10" in trial.experiment_tag


def test_generator_places_list_positions(make_experiment):
    generator = SearchGenerator(Recorder([{"layers": {1: 64}}]))
    generator.add_configurations(make_experiment({"layers": [32, 16, 8]}))
    assert generator.next_trial().config == {"layers": [32, 64, 8]}


def test_generator_throttles_and_finishes():
    generator = SearchGenerator(Recorder([]))

    def train(config):
        return None

    generator.add_configurations({"exp": {"run": train, "num_samples": 3}})
    assert generator.next_trials() == []
    assert not generator.is_finished()
    generator.searcher.suggestions = [{"a": 1}, Searcher.FINISHED]
    assert len(generator.next_trials()) == 1
    assert generator.is_finished()


def test_generator_forwards_results_and_early_stops(make_experiment):
    searcher = Recorder([{"a": 1}, {"a": 2}, {"a": 3}])
    generator = SearchGenerator(searcher)
    generator.add_configurations(make_experiment(num_samples=3))
    t1, t2, t3 = generator.next_trials()
    generator.on_trial_result(t1.trial_id, {"score": 1, "training_iteration": 1})
    generator.on_trial_complete(t1.trial_id, {"score": 2, "training_iteration": 2})
    generator.on_trial_result(t2.trial_id, {"score": 5, "training_iteration": 1})
    generator.on_trial_complete(t2.trial_id, early_terminated=True)
    generator.on_trial_complete(t3.trial_id, error=True)
    generator.on_trial_complete("added-by-hand", {"score": 1})
    assert [r[0] for r in searcher.results] == [t1.trial_id, t2.trial_id]
    assert searcher.completed[0] == (t1.trial_id, {"score": 2, "training_iteration": 2}, False)
    assert searcher.early == [(t2.trial_id, {"score": 5, "training_iteration": 1})]
    assert searcher.completed[1][0] == t3.trial_id and searcher.completed[1][2] is True
    assert len(searcher.completed) == 2


def test_generator_rejects_grid_search(make_experiment):
    generator = SearchGenerator(TakesSpace([]))
    with pytest.raises(TuneError, match="a searcher cannot be given grid_search values; use BasicVariantGenerator or choice()"):
        generator.add_configurations(make_experiment({"x": grid_search([1, 2])}))


def test_generator_runs_exactly_one_experiment(make_experiment):
    generator = SearchGenerator(Recorder([]))
    with pytest.raises(TuneError, match="exactly one experiment, got 2"):
        generator.add_configurations([make_experiment(name="a"), make_experiment(name="b")])
    generator.add_configurations(make_experiment())
    with pytest.raises(TuneError, match="exactly one experiment"):
        generator.add_configurations(make_experiment())


def test_generator_hands_config_domains_to_searcher(make_experiment):
    searcher = TakesSpace([{"x": 0.5}])
    generator = SearchGenerator(searcher)
    generator.add_configurations(make_experiment({"x": uniform(0, 1), "y": 2}))
    assert list(searcher.space) == [("x",)]
    assert generator.next_trial().config == {"x": 0.5, "y": 2}


def test_generator_after_set_search_properties_does_not_conflict(make_experiment):
    searcher = TakesSpace([{"x": 0.5}], metric=None, mode=None)
    generator = SearchGenerator(searcher)
    config = {"x": uniform(0, 1)}
    assert generator.set_search_properties("loss", "min", config)
    generator.add_configurations(make_experiment(config))
    assert searcher.metric == "loss"


def test_generator_refuses_domains_a_searcher_cannot_take(make_experiment):
    with pytest.raises(TuneError, match=r"cannot take the search space.*\['x'\]"):
        SearchGenerator(Recorder([])).add_configurations(make_experiment({"x": uniform(0, 1)}))
    searcher = TakesSpace([])
    searcher.space = {"own": True}
    with pytest.raises(TuneError, match="already has a space"):
        SearchGenerator(searcher).add_configurations(make_experiment({"x": uniform(0, 1)}))


def test_generator_rejects_bad_suggestions(make_experiment):
    generator = SearchGenerator(Recorder([["not", "a", "dict"]]))
    generator.add_configurations(make_experiment())
    with pytest.raises(TuneError, match="expected a dict"):
        generator.next_trial()
    with pytest.raises(TuneError, match="Searcher"):
        SearchGenerator(object())


def test_generator_state_round_trip(make_experiment):
    generator = SearchGenerator(Recorder([{"a": 1}, {"a": 2}, {"a": 3}]))
    generator.add_configurations(make_experiment(num_samples=3))
    first = generator.next_trial()
    state = generator.save_state()
    resumed = SearchGenerator(Recorder([]))
    resumed.restore_state(state)
    resumed.add_configurations(make_experiment(num_samples=3))
    second = resumed.next_trial()
    assert second.trial_id.split("_")[0] == first.trial_id.split("_")[0]
    assert second.experiment_tag == "2_a=2"


def test_to_search_algorithm():
    searcher = Recorder([])
    assert isinstance(to_search_algorithm(searcher), SearchGenerator)
    basic = BasicVariantGenerator()
    assert to_search_algorithm(basic) is basic
    assert isinstance(to_search_algorithm(None), BasicVariantGenerator)
    with pytest.raises(TuneError, match="search_alg"):
        to_search_algorithm("hyperopt")


# -- search-space helpers --------------------------------------------------------------------------
def test_sampled_domains_skip_constants_and_lambdas():
    config = {"a": uniform(0, 1), "b": 3, "c": {"d": randint(0, 4)}, "e": lambda spec: 1}
    assert set(sampled_domains(config)) == {("a",), ("c", "d")}
    with pytest.raises(TuneError, match="'e'"):
        sampled_domains(config, allow_lambdas=False)


def test_point_to_params_matches_choice_options():
    domains = sampled_domains({"opt": choice([{"name": "sgd", "lr": uniform(0, 1)}, {"name": "adam"}, "none"])})
    params, missing = point_to_params({"opt": {"name": "sgd", "lr": 0.3}}, domains)
    assert {k: v for k, (_, v) in params.items()} == {"opt": 0, "opt/0/lr": 0.3}
    assert missing == []
    params, _ = point_to_params({"opt": "none"}, domains)
    assert {k: v for k, (_, v) in params.items()} == {"opt": 2}
    with pytest.raises(TuneError, match="not one of the choices"):
        point_to_params({"opt": {"name": "sgd"}}, domains)  # without "lr" it is not the sgd option
    with pytest.raises(TuneError, match="not one of the choices for 'opt'"):
        point_to_params({"opt": "rmsprop"}, domains)
    _, missing = point_to_params({}, domains)
    assert missing == ["opt"]


def test_deep_merge_keeps_base_untouched():
    base = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    merged = deep_merge(base, {"a": {"b": 5}, "l": {0: 9}})
    assert merged == {"a": {"b": 5, "c": 2}, "l": [9, 2]}
    assert base == {"a": {"b": 1, "c": 2}, "l": [1, 2]}


def test_import_does_not_load_optional_libraries():
    code = ("import sys, tunelab.suggest as s; s.HyperOptSearch; s.OptunaSearch; "
            "print('hyperopt' in sys.modules, 'optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
