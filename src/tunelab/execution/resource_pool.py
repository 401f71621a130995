"""A machine's resource pool: CPUs, GPUs (with per-device fractional packing) and custom resources (what
trials request is `tunelab.resources.Resources`)."""
from __future__ import annotations

import math
import os

from tunelab.resources import Resources, _num

_EPS = 1e-9


def detect_num_gpus() -> int:
    """GPUs visible to this process, found without importing a deep-learning framework."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([v for v in visible.split(",") if v.strip() and v.strip() != "-1"])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        pass
    return _gpus_listed_by_nvidia_smi()


def _gpus_listed_by_nvidia_smi() -> int:
    """Fallback where the driver's /proc folder is hidden (some VMs and sandboxes): `nvidia-smi -L`."""
    import shutil
    import subprocess

    tool = shutil.which("nvidia-smi")
    if tool is None:
        return 0
    try:
        listing = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def detect_num_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class ResourcePool:
    """Tracks what is free and hands out GPU ids: a fractional request packs onto a partly used GPU."""

    def __init__(self, num_cpus: float, num_gpus: int, custom: dict | None = None):
        self.total_cpu = float(num_cpus)
        self.total_gpu = int(num_gpus)
        self.total_custom = dict(custom or {})
        self.used_cpu = 0.0
        self.used_custom: dict[str, float] = {k: 0.0 for k in self.total_custom}
        self.gpu_free = [1.0] * self.total_gpu
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = [v.strip() for v in visible.split(",") if v.strip()] if visible else []
        self.gpu_ids = ids[: self.total_gpu] if len(ids) >= self.total_gpu else [str(i) for i in range(self.total_gpu)]

    def set_totals(self, num_cpus: float, num_gpus: int, custom: dict) -> None:
        """Change what the pool holds (a Ray cluster gained or lost nodes); what trials use stays taken, so
        `used` may exceed a shrunk total until they end. Lost GPUs are the freest ones; new ones are free."""
        self.total_cpu = float(num_cpus)
        self.total_custom = dict(custom)
        for name in self.total_custom:
            self.used_custom.setdefault(name, 0.0)
        num_gpus = int(num_gpus)
        while len(self.gpu_free) > num_gpus:
            i = max(range(len(self.gpu_free)), key=lambda j: self.gpu_free[j])
            del self.gpu_free[i], self.gpu_ids[i]
        while len(self.gpu_free) < num_gpus:
            self.gpu_ids.append(str(max((int(g) for g in self.gpu_ids if g.isdigit()), default=-1) + 1))
            self.gpu_free.append(1.0)
        self.total_gpu = num_gpus

    @property
    def used_gpu(self) -> float:
        return sum(1.0 - f for f in self.gpu_free)

    def never_fits(self, resources: Resources) -> str | None:
        """Why `resources` can never be satisfied by this pool (None if it can)."""
        problems = []
        if resources.cpu_total() > self.total_cpu + _EPS:
            problems.append(f"{_num(resources.cpu_total())} CPUs but the pool has {_num(self.total_cpu)}")
        gpu = resources.gpu_total()
        if gpu > 1 and not float(gpu).is_integer():
            problems.append(f"{gpu} GPUs: a request above 1 GPU must be a whole number")
        elif gpu > self.total_gpu + _EPS:
            problems.append(f"{_num(gpu)} GPUs but the pool has {self.total_gpu}")
        for name, amount in resources.custom().items():
            have = self.total_custom.get(name, 0)
            if amount > have + _EPS:
                problems.append(f"{_num(amount)} of custom resource {name!r} but the pool has {_num(have)}")
        if not problems:
            return None
        return ("Trial requests " + "; ".join(problems) + ". Lower resources_per_trial, or declare more with "
                "tunelab.init(num_cpus=..., num_gpus=..., resources={...}).")

    def _gpu_assignment(self, gpu: float) -> list[int] | None:
        if gpu <= _EPS:
            return []
        if gpu < 1:
            fitting = [i for i, free in enumerate(self.gpu_free) if free + _EPS >= gpu]
            if not fitting:
                return None
            return [min(fitting, key=lambda i: self.gpu_free[i])]  # pack: the fullest GPU that fits
        whole = [i for i, free in enumerate(self.gpu_free) if free >= 1 - _EPS]
        need = int(math.ceil(gpu - _EPS))
        return whole[:need] if len(whole) >= need else None

    def fits(self, resources: Resources) -> bool:
        if self.used_cpu + resources.cpu_total() > self.total_cpu + _EPS:
            return False
        for name, amount in resources.custom().items():
            if self.used_custom.get(name, 0) + amount > self.total_custom.get(name, 0) + _EPS:
                return False
        return self._gpu_assignment(resources.gpu_total()) is not None

    def acquire(self, resources: Resources) -> list[str]:
        """Take the resources (caller checked `fits`) and return the GPU ids for CUDA_VISIBLE_DEVICES."""
        gpus = self._gpu_assignment(resources.gpu_total())
        assert gpus is not None, "acquire() without fits()"
        self.used_cpu += resources.cpu_total()
        for name, amount in resources.custom().items():
            self.used_custom[name] = self.used_custom.get(name, 0) + amount
        gpu = resources.gpu_total()
        for i in gpus:
            self.gpu_free[i] -= gpu if gpu < 1 else 1.0
        return [self.gpu_ids[i] for i in gpus]

    def release(self, resources: Resources, gpu_ids: list[str]) -> None:
        self.used_cpu = max(0.0, self.used_cpu - resources.cpu_total())
        for name, amount in resources.custom().items():
            self.used_custom[name] = max(0.0, self.used_custom.get(name, 0) - amount)
        gpu = resources.gpu_total()
        for gid in gpu_ids:
            if gid not in self.gpu_ids:  # the device left the pool with its node (set_totals)
                continue
            i = self.gpu_ids.index(gid)
            self.gpu_free[i] = min(1.0, self.gpu_free[i] + (gpu if gpu < 1 else 1.0))

    def summary(self) -> str:
        text = f"{_num(self.used_cpu)}/{_num(self.total_cpu)} CPUs, {_num(round(self.used_gpu, 6))}/{self.total_gpu} GPUs"
        for name in sorted(self.total_custom):
            text += f", {_num(self.used_custom.get(name, 0))}/{_num(self.total_custom[name])} {name}"
        return text
