"""Cheap sharing of large objects with every trial: the object is pickled once (protocol 5, buffers out of
band) into a shared-memory file; workers memory-map it, so numpy arrays are read without a copy."""
from __future__ import annotations

import atexit
import mmap
import os
import pickle
import struct
import tempfile
from typing import Any

from tunelab.error import TuneError

PREFIX = "tunelab.PinnedObject:"
_MAGIC = b"TLPIN001"
_ALIGN = 64
_cache: dict[str, Any] = {}
_owned: list[str] = []


def _shm_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def _align(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


def pin_in_object_store(obj: Any) -> str:
    """Store `obj` once in shared memory and return a handle string for `get_pinned_object`.

    The object lives as long as this (driver) process; handles may be captured in closures or configs.
    """
    import cloudpickle

    buffers: list[pickle.PickleBuffer] = []
    try:
        data = cloudpickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    except Exception as exc:
        raise TuneError(f"pin_in_object_store: the object cannot be pickled: {exc!r}") from exc
    views = [memoryview(b.raw()) if b.raw().contiguous else memoryview(bytes(b.raw())) for b in buffers]
    header_len = _align(len(_MAGIC) + 8 + 16 * (len(views) + 1))
    offsets = []
    position = header_len
    for view in [memoryview(data)] + views:
        offsets.append((position, view.nbytes))
        position = _align(position + view.nbytes)
    path = os.path.join(_shm_dir(), f"tunelab_pin_{os.getpid()}_{os.urandom(6).hex()}")
    with open(path, "wb") as f:
        f.write(_MAGIC + struct.pack("<Q", len(offsets)))
        for offset, size in offsets:
            f.write(struct.pack("<QQ", offset, size))
        for (offset, _), view in zip(offsets, [memoryview(data)] + views):
            f.seek(offset)
            f.write(view.cast("B"))
        f.truncate(max(position, header_len))
    if not _owned:
        atexit.register(_cleanup)
    _owned.append(path)
    handle = PREFIX + path
    _cache[handle] = obj
    return handle


def get_pinned_object(handle: str) -> Any:
    """The object behind a handle from `pin_in_object_store` (memory-mapped, cached per process)."""
    if handle in _cache:
        return _cache[handle]
    if not isinstance(handle, str) or not handle.startswith(PREFIX):
        raise TuneError(f"get_pinned_object needs a handle returned by pin_in_object_store, got {handle!r}")
    path = handle[len(PREFIX):]
    try:
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    except OSError as exc:
        raise TuneError(f"pinned object {handle!r} is not here: the process that pinned it has exited, or this "
                        f"trial runs on another machine than the driver (pinned objects live in the driver "
                        f"machine's shared memory; with executor='ray' on several nodes, load the data in the "
                        f"trial instead) ({exc})") from None
    if mapped[: len(_MAGIC)] != _MAGIC:
        raise TuneError(f"{path} is not a tunelab pinned object")
    (count,) = struct.unpack_from("<Q", mapped, len(_MAGIC))
    spans = [struct.unpack_from("<QQ", mapped, len(_MAGIC) + 8 + 16 * i) for i in range(count)]
    view = memoryview(mapped)
    (data_off, data_len), buffer_spans = spans[0], spans[1:]
    obj = pickle.loads(view[data_off:data_off + data_len], buffers=[view[o:o + n] for o, n in buffer_spans])
    _cache[handle] = obj
    return obj


def _cleanup() -> None:
    for path in _owned:
        try:
            os.unlink(path)
        except OSError:
            pass
    _owned.clear()


class _FunctionWithParameters:
    """A function trainable with large objects bound by handle (resolved in the worker)."""

    def __init__(self, fn: Any, handles: dict[str, str]):
        import functools

        self.handles = handles
        functools.update_wrapper(self, fn)
        self.__wrapped_trainable__ = fn

    def resolve_bound_objects(self) -> dict[str, Any]:
        """The bound objects by name, read from shared memory (in the process that runs the trial)."""
        return {name: get_pinned_object(h) for name, h in self.handles.items()}

    def __call__(self, config: dict, reporter: Any = None) -> Any:
        from tunelab.trainable.function_call import call_function_trainable

        return call_function_trainable(self, config, lambda: reporter)


def with_parameters(trainable: Any, **objects: Any) -> Any:
    """Bind large objects to a trainable once: each trial gets them without a copy or a per-trial pickle.

    Functions receive them as keyword arguments (`train(config, data=...)`); Trainable classes receive
    them in `setup(config, **objects)` (or `_setup`).
    """
    import inspect

    from tunelab.trainable.trainable import Trainable

    handles = {name: pin_in_object_store(value) for name, value in objects.items()}
    if inspect.isclass(trainable) and issubclass(trainable, Trainable):

        class _WithParameters(trainable):
            def _setup_dispatch(self, config: dict) -> None:
                bound = {name: get_pinned_object(h) for name, h in handles.items()}
                if type(self).setup is not Trainable.setup:
                    self.setup(config, **bound)
                elif type(self)._setup is not Trainable._setup:
                    self._setup(config, **bound)
                else:
                    raise TuneError(f"with_parameters({trainable.__name__}, {', '.join(handles)}=...): "
                                    f"{trainable.__name__} defines no setup(self, config, **objects) to receive them")

        _WithParameters.__name__ = trainable.__name__
        _WithParameters.__qualname__ = trainable.__qualname__
        return _WithParameters
    if isinstance(trainable, _FunctionWithParameters):  # e.g. with_parameters(with_resources(f), ...): one level
        merged = _FunctionWithParameters(trainable.__wrapped_trainable__, {**trainable.handles, **handles})
        if "default_resource_request" in vars(trainable):
            merged.default_resource_request = trainable.default_resource_request  # type: ignore[attr-defined]
        return merged
    if callable(trainable):
        return _FunctionWithParameters(trainable, handles)
    raise TuneError(f"with_parameters needs a function or a Trainable subclass, got {trainable!r}")
