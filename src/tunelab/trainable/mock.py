"""`MockTrainable`, registered on first use as `"__fake"`: the seed's test trainable (RLlib's `_MockAgent`).

2018 tests built trials by hand with `Trial("__fake", ...)` and ran them on a `TrialRunner`; Ray registered
`__fake` when `ray.tune` was imported. tunelab registers it the first time the name is looked up (a trainable
you register under that name wins).
"""
from __future__ import annotations

import os
import pickle
from typing import Any

from tunelab.storage.layout import MOCK_AGENT_FILE
from tunelab.trainable.trainable import Trainable


class MockTrainable(Trainable):
    """Reports `episode_reward_mean=10, episode_len_mean=10, timesteps_this_iter=10` every iteration.

    Config: `mock_error=True` raises in the second iteration (again after a restore only with
    `persistent_error=True`); `test_variable` is accepted and ignored. `info` (set with `set_info`) is what
    a checkpoint holds.
    """

    def _setup(self, config: dict | None = None) -> None:
        self.info: Any = None
        self.restored = False

    def _train(self) -> dict:
        if self.config.get("mock_error") and self.iteration == 1 and (
                self.config.get("persistent_error") or not self.restored):
            raise Exception("mock error")
        return dict(episode_reward_mean=10, episode_len_mean=10, timesteps_this_iter=10, info={})

    def _save(self, checkpoint_dir: str) -> str:
        path = os.path.join(checkpoint_dir, MOCK_AGENT_FILE)
        with open(path, "wb") as f:
            pickle.dump(self.info, f)
        return path

    def _restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.info = pickle.load(f)
        self.restored = True

    def set_info(self, info: Any) -> Any:
        self.info = info
        return info

    def get_info(self) -> Any:
        return self.info
