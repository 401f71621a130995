"""Trial schedulers: decide per result whether a trial continues, pauses or stops."""
from tunelab.schedulers.async_hyperband import ASHAScheduler, AsyncHyperBandScheduler
from tunelab.schedulers.hyperband import HyperBandScheduler
from tunelab.schedulers.median_stopping import MedianStoppingRule
from tunelab.schedulers.pbt import PopulationBasedTraining
from tunelab.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

__all__ = [
    "TrialScheduler", "FIFOScheduler", "MedianStoppingRule", "HyperBandScheduler", "AsyncHyperBandScheduler",
    "ASHAScheduler", "PopulationBasedTraining",
]
