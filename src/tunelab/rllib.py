"""Seed path `ray.rllib`, for the one name 2018 Tune tests imported from it: `_register_all()`.

tunelab has no RLlib agents (PPO, DQN, ...). `_register_all()` registers the built-in test trainable
`"__fake"` (RLlib's mock agent, which the seed's tests ran) again, as the seed's re-registered its objects
after a test replaced them.
"""
from tunelab import registry

__all__ = ["_register_all"]


def _register_all() -> None:
    """Register tunelab's built-in trainables again (undoing a test that replaced or removed one)."""
    for name in registry._BUILTINS:
        registry._trainables.pop(name, None)
        registry._register_builtin(name)
