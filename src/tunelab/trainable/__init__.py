"""The class API (`Trainable`), checkpoints and the reporting session.

`tunelab.trainable.Trainable` is the seed path `ray.tune.trainable.Trainable`.
"""
from tunelab.trainable.trainable import Trainable

__all__ = ["Trainable"]
