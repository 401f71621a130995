"""tunelab: hyperparameter tuning with Ray Tune's API, embedded by default.

`import tunelab as tune` is a drop-in for the 2018 `import ray.tune as tune`; `tunelab.run` is the modern
single call, and `tunelab.Tuner` (with `tunelab.train`, `tunelab.search`) takes Ray 2.x scripts. See the
README and docs/ for the guide.
"""
from typing import TYPE_CHECKING, Any

from tunelab._version import __version__ as __version__
from tunelab.api import init, run, run_experiments, shutdown
from tunelab.callback import Callback
from tunelab.error import TuneError
from tunelab.experiment import Experiment
from tunelab.registry import register_env, register_trainable
from tunelab.shared_objects import with_parameters
from tunelab.stopper import Stopper
from tunelab.suggest.domains import (
    choice,
    function,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)
from tunelab.trainable.checkpoint import Checkpoint
from tunelab.trainable.session import get_checkpoint, get_context, get_trial_dir, report
from tunelab.trainable.trainable import Trainable
from tunelab.trainable.with_resources import with_resources
from tunelab.tuner.config import CheckpointConfig, FailureConfig, RunConfig, TuneConfig

if TYPE_CHECKING:  # imported lazily by __getattr__ at run time; type checkers see the real classes
    from tunelab.analysis import ExperimentAnalysis
    from tunelab.web_server import TuneClient


def __getattr__(name: str) -> Any:  # lazy: keep `import tunelab` light
    if name == "ExperimentAnalysis":
        from tunelab.analysis import ExperimentAnalysis

        return ExperimentAnalysis
    if name == "Tuner":
        from tunelab.tuner.tuner import Tuner

        return Tuner
    if name in ("ResultGrid", "Result"):
        from tunelab.tuner import result_grid

        return getattr(result_grid, name)
    if name == "TuneClient":
        from tunelab.web_server import TuneClient

        return TuneClient
    raise AttributeError(f"module 'tunelab' has no attribute {name!r}")


__all__ = [
    "init", "run", "run_experiments", "shutdown", "register_trainable", "register_env",
    "Experiment", "Trainable", "TuneError",
    "Callback", "Stopper", "Checkpoint", "report", "get_checkpoint", "get_trial_dir", "with_parameters",
    "grid_search", "sample_from", "function", "uniform", "quniform", "loguniform", "qloguniform", "randn",
    "qrandn", "randint", "qrandint", "lograndint", "qlograndint", "choice", "ExperimentAnalysis", "TuneClient",
    "Tuner", "TuneConfig", "RunConfig", "CheckpointConfig", "FailureConfig", "ResultGrid", "Result", "get_context",
    "with_resources",
]
