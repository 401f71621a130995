"""Result loggers: callbacks that write each trial's results into its logdir.

`default_loggers()` is what the controller adds to every experiment: JSON (`params.json`,
`result.json`), CSV (`progress.csv`) and TensorBoard event files when tensorboardX is installed.
Set `TUNELAB_DISABLE_AUTO_LOGGERS=1` to turn all of them off, or to a comma list such as `tbx,csv`
to turn off only those.
"""
from __future__ import annotations

import os

from tunelab.callback import Callback
from tunelab.loggers.base import TrialFileLogger
from tunelab.loggers.csv_logger import CSVLoggerCallback
from tunelab.loggers.encoding import SafeFallbackEncoder, dumps_result, flatten_dict
from tunelab.loggers.json_logger import JsonLoggerCallback
from tunelab.loggers.tbx_logger import TBXLoggerCallback, tensorboardx_available

__all__ = [
    "CSVLoggerCallback",
    "JsonLoggerCallback",
    "SafeFallbackEncoder",
    "TBXLoggerCallback",
    "TrialFileLogger",
    "default_loggers",
    "dumps_result",
    "flatten_dict",
]

DISABLE_ENV = "TUNELAB_DISABLE_AUTO_LOGGERS"
_ALL = ("json", "csv", "tbx")


def default_loggers(json: bool = True, csv: bool = True, tensorboard: bool | None = None) -> list[Callback]:
    """The logger callbacks on by default. `tensorboard=None` means "if tensorboardX is importable".

    The `TUNELAB_DISABLE_AUTO_LOGGERS` env var wins: `1`/`true`/`all` disables every logger, a comma
    list of `json`, `csv`, `tbx` disables those.
    """
    disabled = _disabled_from_env()
    loggers: list[Callback] = []
    if json and "json" not in disabled:
        loggers.append(JsonLoggerCallback())
    if csv and "csv" not in disabled:
        loggers.append(CSVLoggerCallback())
    if tensorboard is None:
        tensorboard = tensorboardx_available()
    if tensorboard and "tbx" not in disabled:
        loggers.append(TBXLoggerCallback())
    return loggers


def _disabled_from_env() -> set[str]:
    value = os.environ.get(DISABLE_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return set()
    if value in ("1", "true", "yes", "all"):
        return set(_ALL)
    return {name.strip() for name in value.split(",")}
