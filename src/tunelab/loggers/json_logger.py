"""`JsonLoggerCallback`: `params.json` (the trial's config) and `result.json` (one JSON line per result)."""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from tunelab.loggers.base import TrialFileLogger, keep_iteration, rewrite_atomically
from tunelab.loggers.encoding import dumps_params, dumps_result
from tunelab.result_keys import TRAINING_ITERATION
from tunelab.storage.layout import PARAMS_FILE, RESULT_FILE
from tunelab.storage.lines import LineAppender, warn_skipped

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunelab.trial_view import TrialView


class JsonLoggerCallback(TrialFileLogger[LineAppender]):
    """Writes every result of every trial as one line of `<logdir>/result.json`, flushed at once, and
    the trial's config to `<logdir>/params.json` when it starts and whenever its config object changes
    (a PBT exploit replaces it). Each result is one whole-line write; a torn last line left by a kill
    is cut off before the first append (see `tunelab.storage.lines`)."""

    def __init__(self) -> None:
        super().__init__()
        self._configs: dict[str, tuple[Any, str]] = {}  # trial_id -> (config object, params text)

    def _open(self, trial: "TrialView") -> LineAppender:
        assert trial.logdir is not None  # TrialFileLogger._handle opens only trials that have a logdir
        return LineAppender(os.path.join(trial.logdir, RESULT_FILE))

    def _forget(self, trial: "TrialView") -> None:
        self._configs.pop(trial.trial_id, None)

    def _write_params(self, trial: "TrialView") -> None:
        """(Re)write params.json unless the same config was already written."""
        if not trial.logdir:
            return
        text = dumps_params(trial.config)
        seen = self._configs.get(trial.trial_id)
        path = os.path.join(trial.logdir, PARAMS_FILE)
        if seen is None or seen[1] != text or not os.path.exists(path):
            os.makedirs(trial.logdir, exist_ok=True)
            rewrite_atomically(path, [text])
        self._configs[trial.trial_id] = (trial.config, text)

    def on_trial_start(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._write_params(trial)

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        seen = self._configs.get(trial.trial_id)
        if seen is None or seen[0] is not trial.config:
            self._write_params(trial)
        f = self._handle(trial)
        if f is not None:
            f.write(dumps_result(result) + "\n")

    def on_trial_restore(self, trial: "TrialView", iteration: int) -> None:
        super().on_trial_restore(trial, iteration)
        path = os.path.join(trial.logdir or "", RESULT_FILE)
        if trial.logdir and os.path.exists(path):
            rewrite_atomically(path, _lines_up_to(path, iteration))


def _lines_up_to(path: str, iteration: int) -> list[str]:
    """The lines of a result.json whose `training_iteration` is at most `iteration` (unreadable lines
    dropped, with a warning)."""
    kept = []
    skipped = 0
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            try:
                result = json.loads(line)
            except ValueError:
                skipped += line.strip() != ""
                continue
            if not isinstance(result, dict) or keep_iteration(result.get(TRAINING_ITERATION), iteration):
                kept.append(line if line.endswith("\n") else line + "\n")
    warn_skipped(path, skipped, "not a JSON result; dropped while rewinding to a checkpoint")
    return kept
