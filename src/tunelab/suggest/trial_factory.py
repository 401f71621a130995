"""Building Trials: `create_trial` (every trial source's one way to make a Trial) and `SuggestedTrials`
(the trials of one experiment made from suggested configs, shared by `SearchGenerator` and the seed's
`SuggestionAlgorithm`).
"""
from __future__ import annotations

import copy
import os
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tunelab.error import TuneError
from tunelab.experiment import Experiment, convert_to_experiment_list
from tunelab.suggest.space import deep_merge, label_of, leaf_paths, sampled_domains
from tunelab.suggest.variant_generator import format_vars, has_unresolved_values, resolved_variables

if TYPE_CHECKING:
    from tunelab.trial import Trial

#: what a Searcher's `suggest` returns when it will never suggest again
FINISHED = "FINISHED"


def create_trial(experiment: "Experiment", config: dict, experiment_tag: str, trial_id: str | None = None,
                 evaluated_params: dict | None = None, stop: Any = None) -> "Trial":
    """Build a Trial for `experiment` with a resolved `config` (one place for every search algorithm)."""
    from tunelab.registry import get_trainable
    from tunelab.trial import Trial

    trainable = get_trainable(experiment.trainable_name)  # the name is resolved now (TuneError if unknown)
    resources = experiment.resources
    if resources is None:
        request = getattr(trainable, "default_resource_request", None)
        resources = request(config) if request is not None else None
    trial = Trial(
        experiment.trainable_name,
        config=config,
        trial_id=trial_id,
        local_dir=experiment.path,
        experiment_tag=experiment_tag,
        resources=resources,
        stopping_criterion=experiment.stop if stop is None else stop,
        checkpoint_freq=experiment.checkpoint_freq,
        checkpoint_at_end=experiment.checkpoint_at_end,
        keep_checkpoints_num=experiment.keep_checkpoints_num,
        checkpoint_score_attr=experiment.checkpoint_score_attr,
        restore_path=experiment.restore,
        max_failures=experiment.max_failures,
        evaluated_params=evaluated_params,
        experiment_name=experiment.name,
        storage=experiment.storage,
    )
    from tunelab.trial_naming import apply_name_creators

    apply_name_creators(trial, experiment.trial_name_creator, experiment.trial_dirname_creator,
                        experiment.used_dirnames)
    return trial


class SuggestedTrials:
    """The trials of exactly one experiment, each made from a suggested config.

    The experiment's `num_samples` is the number of trials to make. Each suggestion is merged (deeply)
    over the experiment's constant config; lambdas left in it are then resolved, so they may depend on
    suggested values. Trials are tagged `"<n>_<suggested vars>"` (n counts from 1, as Ray does) and get
    ids `"<prefix>_<00000>"`. `owner` names the suggesting algorithm in errors.
    """

    def __init__(self, owner: str):
        self.owner = owner
        self.experiment: Experiment | None = None
        self.created = 0
        self.finished = False  # the suggester said FINISHED
        self.space_from_config = False  # the suggester took the domains of the experiment config
        self._id_prefix = os.urandom(3).hex()[:5]
        self._random = random.Random()

    def take_experiment(self, experiments: Any, take_space: Callable[[dict], bool]) -> None:
        """Take the one experiment; its domains go to `take_space(config)` (False: it cannot take them)
        unless the suggester already took them."""
        experiment_list = convert_to_experiment_list(experiments)
        if self.experiment is not None or len(experiment_list) != 1:
            count = len(experiment_list) + (self.experiment is not None)
            raise TuneError(f"{self.owner} searches exactly one experiment, got {count}")
        experiment = experiment_list[0]
        if sampled_domains(experiment.config) and not self.space_from_config:
            if not take_space(experiment.config):
                keys = sorted(label_of(path) for path in sampled_domains(experiment.config))
                raise TuneError(
                    f"{self.owner} cannot take the search space in the config of experiment "
                    f"{experiment.name!r} (domains at {keys}): either it already has a space of its own "
                    "(then remove the domains from the config) or it cannot convert domains (then pass "
                    "the space to the searcher itself)."
                )
            self.space_from_config = True
        self.experiment = experiment

    def next_trial_id(self) -> str | None:
        """The id the next trial will get, or None when no trial can come (no experiment yet, or done)."""
        if self.experiment is None or self.is_finished():
            return None
        return f"{self._id_prefix}_{self.created:05d}"

    def make(self, trial_id: str, suggestion: Any) -> "Trial | None":
        """The trial for a suggestion; None for a throttle (None) or the end (`FINISHED`)."""
        if suggestion is None:
            return None
        if isinstance(suggestion, str) and suggestion == FINISHED:
            self.finished = True
            return None
        if not isinstance(suggestion, dict):
            raise TuneError(f"{self.owner}.suggest returned {suggestion!r}; expected a dict, None or "
                            "Searcher.FINISHED")
        assert self.experiment is not None  # next_trial_id gave the id
        self.created += 1
        suggestion = copy.deepcopy(suggestion)
        config = deep_merge(copy.deepcopy(self.experiment.config), suggestion)
        tag_vars = {("config",) + path: value for path, value in leaf_paths(suggestion).items()}
        if has_unresolved_values(config):
            resolved, spec = next(iter(resolved_variables({"config": config}, self._random)))
            config = spec["config"]
            tag_vars.update(resolved)
        tag = str(self.created)
        formatted = format_vars(tag_vars)
        if formatted:
            tag += "_" + formatted
        evaluated = {label_of(path): value for path, value in leaf_paths(suggestion).items()}
        return create_trial(self.experiment, config, tag, trial_id=trial_id, evaluated_params=evaluated)

    def is_finished(self) -> bool:
        """True once `num_samples` trials were made or the suggester said FINISHED."""
        if self.finished:
            return True
        return self.experiment is not None and self.created >= self.experiment.num_samples

    def save_state(self) -> dict:
        return {"created": self.created, "finished": self.finished, "id_prefix": self._id_prefix,
                "space_from_config": self.space_from_config, "random": self._random.getstate()}

    def restore_state(self, state: dict) -> None:
        self.created, self.finished = state["created"], state["finished"]
        self._id_prefix, self.space_from_config = state["id_prefix"], state["space_from_config"]
        self._random.setstate(state["random"])
