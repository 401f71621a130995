"""Trial schedulers: decide per result whether a trial continues, pauses or stops."""
from tunelab.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

__all__ = ["TrialScheduler", "FIFOScheduler"]
