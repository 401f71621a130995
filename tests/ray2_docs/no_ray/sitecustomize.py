"""Put on PYTHONPATH by tests/ray2_docs: `import ray` fails in the script and in every trial process it
starts, so a rewritten Ray script runs on tunelab alone even where Ray is installed."""
import importlib.abc
import sys


class _NoRay(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "ray" or name.startswith("ray."):
            raise ModuleNotFoundError(f"{name} is blocked in tests/ray2_docs: the script must run on tunelab alone")
        return None


sys.meta_path.insert(0, _NoRay())
