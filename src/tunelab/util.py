"""Seed path `ray.tune.util`: sharing large objects with trials."""
from tunelab.shared_objects import get_pinned_object, pin_in_object_store

__all__ = ["pin_in_object_store", "get_pinned_object"]
