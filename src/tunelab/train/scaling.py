"""`ScalingConfig` (Ray Train's `ray.train.ScalingConfig`): how many training workers a trainer runs and
what each one gets. tunelab runs a trainer inside one trial process, so `num_workers` must be 1; the
resources become the trial's resource request (`with_resources`)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunelab.error import TuneError
from tunelab.options import check_options
from tunelab.validation import check_number

__all__ = ["ScalingConfig"]

_MULTI_WORKER = ("multi-worker data-parallel training is not supported yet: tunelab runs the training loop "
                 "in the trial's own process. Use ScalingConfig(num_workers=1) (one process, with "
                 "use_gpu=True for one GPU), and run more trials at once instead of more workers per trial")


class ScalingConfig:
    """`num_workers` (1), `use_gpu` (the trial gets one GPU), `resources_per_worker` (`{"CPU": 2}`,
    `{"GPU": 1}`, custom resources), `trainer_resources` (added to the worker's: tunelab has no separate
    trainer process). `placement_strategy` and `accelerator_type` are refused (one process, one machine)."""

    _FIELDS = ("num_workers", "use_gpu", "resources_per_worker", "trainer_resources")

    def __init__(self, num_workers: int = 1, use_gpu: bool = False,
                 resources_per_worker: Mapping[str, Any] | None = None,
                 trainer_resources: Mapping[str, Any] | None = None, placement_strategy: str = "PACK",
                 accelerator_type: str | None = None, **options: Any):
        refused = {"placement_strategy": (("PACK",), "a trial is one process on one machine"),
                   "accelerator_type": ((None,), "tunelab does not match GPU models; leave it out")}
        check_options("ScalingConfig", dict(options, placement_strategy=placement_strategy,
                                            accelerator_type=accelerator_type), self._FIELDS, refused)
        check_number("ScalingConfig(num_workers=...)", num_workers, minimum=1, integer=True)
        if num_workers != 1:
            raise TuneError(f"ScalingConfig(num_workers={num_workers}): {_MULTI_WORKER}")
        if not isinstance(use_gpu, bool):
            raise TuneError(f"ScalingConfig(use_gpu={use_gpu!r}) must be True or False")
        for field, value in (("resources_per_worker", resources_per_worker),
                             ("trainer_resources", trainer_resources)):
            if value is not None and not isinstance(value, Mapping):
                raise TuneError(f"ScalingConfig({field}={value!r}) must be a dict such as {{'CPU': 2}}")
        self.num_workers = num_workers
        self.use_gpu = use_gpu
        self.resources_per_worker = dict(resources_per_worker) if resources_per_worker is not None else None
        self.trainer_resources = dict(trainer_resources) if trainer_resources is not None else None

    def trial_resources(self) -> dict[str, Any]:
        """The trial's resource request (a `with_resources` dict): the worker's resources (by default
        1 CPU, and 1 GPU with `use_gpu`) plus `trainer_resources`."""
        worker = {k.lower() if k.lower() in ("cpu", "gpu") else k: v
                  for k, v in (self.resources_per_worker or {}).items()}
        worker.setdefault("cpu", 1)
        if self.use_gpu:
            worker.setdefault("gpu", 1)
        elif worker.get("gpu"):
            raise TuneError(f"ScalingConfig(resources_per_worker={self.resources_per_worker!r}) asks for a GPU "
                            "with use_gpu=False; pass use_gpu=True")
        for key, value in (self.trainer_resources or {}).items():
            name = key.lower() if key.lower() in ("cpu", "gpu") else key
            worker[name] = worker.get(name, 0) + value
        return worker

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS if getattr(self, f) not in (None, False))
        return f"ScalingConfig({shown})"
