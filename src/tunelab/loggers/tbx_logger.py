"""`TBXLoggerCallback`: TensorBoard event files in each trial's logdir (needs `tensorboardX`).

Every numeric result value is a scalar `ray/tune/<key>` (nested keys joined with `/`, the seed's tag
names, so old dashboards keep working) at step `training_iteration`; bookkeeping fields (config, pid,
dates, ids, host names, `done`) are left out. When the trial ends, its config and its last metrics
are written as an HParams session in the same run, so TensorBoard's HParams tab compares trials and
links each metric to its scalar curve.
"""
from __future__ import annotations

import contextlib
import itertools
import math
import os
import struct
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tunelab.loggers.base import TrialFileLogger
from tunelab.loggers.encoding import flatten_dict
from tunelab.result_keys import CONFIG, DATE, DONE, EXPERIMENT_ID, HOSTNAME, NODE_IP, PID, TIMESTAMP, TRAINING_ITERATION, TRIAL_ID
from tunelab.storage.layout import TB_EVENTS_PREFIX
from tunelab.storage.lines import storage_error

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tunelab.trial_view import TrialView

_FILE_COUNTER = itertools.count()
TAG_PREFIX = "ray/tune/"
SKIPPED_KEYS = frozenset(
    {CONFIG, PID, TIMESTAMP, DATE, TRIAL_ID, EXPERIMENT_ID, HOSTNAME, NODE_IP, DONE}
)


def _is_scalar(value: Any) -> bool:
    """A finite-or-infinite number TensorBoard can plot (bools and NaN are left out)."""
    if isinstance(value, bool):
        return False
    if not isinstance(value, (int, float)):
        np = sys.modules.get("numpy")  # a numpy value exists only once numpy is imported: never imported here
        if np is None or not isinstance(value, (np.integer, np.floating)):
            return False
    return bool(value == value)


class TBXLoggerCallback(TrialFileLogger[Any]):
    """One synchronous TensorBoard event writer per running trial, writing into `trial.logdir`.

    The writer has no background thread (tensorboardX's SummaryWriter has one, and its fight for the GIL
    with the controller multiplied the per-report latency); events are buffered and flushed every
    `flush_secs` and when the trial stops. A trial started again
    gets a new event file in the same folder, which TensorBoard merges into one run. After a restore
    from iteration k, the new file starts with a purge marker at step k + 1, so TensorBoard drops the
    scalars logged after the checkpoint instead of showing those steps twice.
    """

    max_open = 32

    def __init__(self, flush_secs: int = 30):
        super().__init__()
        # tensorboardX itself (with numpy and protobuf: ~0.1-0.3 s) is imported only for the HParams summary
        # when a trial ends; event files are written without it, so none of that delays the first result
        if not tensorboardx_available():  # pragma: no cover - depends on the environment
            raise ImportError("TBXLoggerCallback needs tensorboardX: pip install 'tunelab[tensorboard]'")
        self._hparams: Any = None  # tensorboardX.summary.hparams, imported when first needed
        self._flush_secs = flush_secs
        self._last_metrics: dict[str, dict[str, float]] = {}
        self._purge_steps: dict[str, int] = {}

    def _open(self, trial: "TrialView") -> Any:
        # tensorboardX names event files by the second: this suffix keeps a writer reopened within the
        # same second from truncating the previous file, and keeps the files sorted in creation order
        assert trial.logdir is not None  # TrialFileLogger._handle opens only trials that have a logdir
        return _EventWriter(
            trial.logdir,
            flush_secs=self._flush_secs,
            purge_step=self._purge_steps.pop(trial.trial_id, None),
            filename_suffix=f".{time.time_ns()}.{next(_FILE_COUNTER):08d}",
        )

    def on_trial_restore(self, trial: "TrialView", iteration: int) -> None:
        super().on_trial_restore(trial, iteration)
        self._purge_steps[trial.trial_id] = iteration + 1

    def _forget(self, trial: "TrialView") -> None:
        self._last_metrics.pop(trial.trial_id, None)
        self._purge_steps.pop(trial.trial_id, None)

    def on_trial_result(
        self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", result: dict, **info: Any
    ) -> None:
        writer = self._handle(trial)
        if writer is None:
            return
        metrics = {k: float(v) for k, v in flatten_dict(result, exclude=SKIPPED_KEYS).items() if _is_scalar(v)}
        # one event holding every scalar, encoded directly: far cheaper than one `add_scalar` per value
        writer.write_scalars(metrics, result.get(TRAINING_ITERATION))
        self._last_metrics[trial.trial_id] = metrics

    def on_trial_complete(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._write_hparams(trial)
        super().on_trial_complete(iteration, trials, trial, **info)

    def on_trial_error(self, iteration: int, trials: "Sequence[TrialView]", trial: "TrialView", **info: Any) -> None:
        self._write_hparams(trial)
        super().on_trial_error(iteration, trials, trial, **info)

    def _write_hparams(self, trial: "TrialView") -> None:
        """Record the trial's flattened config (numbers, strings, bools) against its last metrics."""
        metrics = self._last_metrics.get(trial.trial_id)
        if not metrics:
            return
        writer = self._handle(trial)
        if writer is None:
            return
        params = {k: _hparam_value(v) for k, v in flatten_dict(trial.config or {}).items()}
        params = {k: v for k, v in params.items() if v is not None}
        metric_dict = {TAG_PREFIX + k: v for k, v in metrics.items()}
        if self._hparams is None:
            self._hparams = _import_tensorboardx_hparams()
        for summary in self._hparams(params, metric_dict):
            writer.file_writer.add_summary(summary)


def _import_tensorboardx_hparams() -> Any:
    """tensorboardX's HParams summary builder, imported without torch and the cloud clients."""
    with _without_torch(), _without_cloud_clients():
        from tensorboardX.summary import hparams
    return hparams


def _load_masked_crc32c() -> Callable[[bytes], int]:
    """TFRecord's masked CRC32C, as tensorboardX computes it: with the C function of the `crc32c` package (a
    tensorboardX dependency) when installed, set up as tensorboardX sets it up, else tensorboardX's own."""
    if os.environ.get("CRC32C_SW_MODE") is None:  # what tensorboardX.crc32c sets before importing crc32c
        os.environ["CRC32C_SW_MODE"] = "auto"
    crc32c = _native_crc32c()
    if crc32c is None:  # pragma: no cover - depends on the environment
        with _without_torch(), _without_cloud_clients():
            from tensorboardX.record_writer import masked_crc32c
        return masked_crc32c

    def masked_crc32c_native(data: bytes) -> int:
        x = crc32c(data) & 0xFFFFFFFF
        return (((x >> 15) | ((x << 17) & 0xFFFFFFFF)) + 0xA282EAD8) & 0xFFFFFFFF

    return masked_crc32c_native


def _native_crc32c() -> Callable[[bytes], int] | None:
    """`crc32c.crc32c`, the package's C extension loaded without running the package's `__init__` (which
    imports importlib.metadata and its command-line tool: ~0.1 s, on the first result's path); a plain
    import where that fails; None where the package is not installed."""
    import importlib.machinery
    import importlib.util

    imported = sys.modules.get("crc32c")
    if imported is None:
        try:
            package = importlib.util.find_spec("crc32c")  # finds, without importing, the top-level package
            locations = list(package.submodule_search_locations or []) if package is not None else []
            spec = importlib.machinery.PathFinder.find_spec("crc32c._crc32c", locations) if locations else None
            if spec is not None and spec.loader is not None:
                extension = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(extension)
                return extension.crc32c
        except (ImportError, OSError, AttributeError):
            pass
    try:
        from crc32c import crc32c
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return crc32c


@contextlib.contextmanager
def _without_torch() -> Iterator[None]:
    """Import tensorboardX without it importing PyTorch (seconds, and memory, in the driver): its
    writer module imports torch only to accept tensors, which this logger never passes it."""
    with _blocked("torch"):
        yield


#: (module, tensorboardX.record_writer's name for it, its flag): the clients tensorboardX's record_writer
#: imports at once for its s3:// and gs:// writers (boto3 alone takes ~0.2-0.5 s, wherever it is installed)
_CLOUD_CLIENTS = (("boto3", "boto3", "S3_ENABLED"), ("google.cloud.storage", "storage", "GCS_ENABLED"))


@contextlib.contextmanager
def _without_cloud_clients() -> Iterator[None]:
    """Import tensorboardX without the S3 and GCS clients its record_writer imports at once; its s3:// and
    gs:// writers (never used by this logger, which writes local files) still work: the clients that are
    installed are imported when one of those writers first uses them."""
    blocked = [entry for entry in _CLOUD_CLIENTS if entry[0] not in sys.modules]
    with contextlib.ExitStack() as stack:
        for name, _, _ in blocked:
            stack.enter_context(_blocked(name))
        yield
    record_writer = sys.modules.get("tensorboardX.record_writer")
    if record_writer is None:
        return
    for name, attribute, flag in blocked:
        if not getattr(record_writer, flag, True) and _installed(name):
            setattr(record_writer, attribute, _ImportedOnUse(name))
            setattr(record_writer, flag, True)


@contextlib.contextmanager
def _blocked(name: str) -> Iterator[None]:
    """`import name` raises ImportError inside the block (unless `name` is already imported)."""
    if name in sys.modules:
        yield
        return
    # a None entry makes `import name` raise ImportError; typeshed types sys.modules values as modules only
    sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get(name, 0) is None:
            del sys.modules[name]


def _installed(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing
        return False


class _ImportedOnUse:
    """Stands for a module that is imported on the first attribute read."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        import importlib

        return getattr(importlib.import_module(self._name), attribute)


class _EventWriter:
    """A thread-free TensorBoard event file: `add_summary` serialises one Event as a TFRecord (length,
    masked CRC32C, data, masked CRC32C) into a buffered file, flushed every `flush_secs` and on close.
    No fsync: a flush reaches the OS, which keeps it through a crash of the driver process."""

    def __init__(self, logdir: str, flush_secs: float, purge_step: int | None, filename_suffix: str):
        import socket

        global _MASKED_CRC32C
        if _MASKED_CRC32C is None:
            _MASKED_CRC32C = _load_masked_crc32c()
        self._crc = _MASKED_CRC32C
        name = f"{TB_EVENTS_PREFIX}{int(time.time()):010d}.{socket.gethostname()}{filename_suffix}"
        self._file = open(os.path.join(logdir, name), "ab")  # noqa: SIM115 - kept open until close()
        self._flush_secs = flush_secs
        self._next_flush = time.monotonic() + flush_secs
        self.file_writer = self
        # Event{wall_time, file_version="brain.Event:2"}, then Event{wall_time, step, session_log{START}}: the
        # bytes tensorboardX's protobuf classes write (tests/outputs/test_loggers.py compares them)
        self._write_bytes(_event_head(None) + b"\x1a" + _varint(len(_FILE_VERSION)) + _FILE_VERSION)
        if purge_step is not None:
            self._write_bytes(_event_head(purge_step) + _SESSION_LOG_START)

    def _write_bytes(self, data: bytes) -> None:
        header = struct.pack("<Q", len(data))
        try:
            self._file.write(header + struct.pack("<I", self._crc(header)) + data + struct.pack("<I", self._crc(data)))
        except OSError as exc:
            raise storage_error(exc, self._file.name) from exc

    def write_scalars(self, metrics: dict[str, float], step: int | None) -> None:
        """Append one Event{wall_time, step, summary{value: [{tag, simple_value}...]}}, protobuf-encoded
        by hand (the field heads of each tag are cached): the per-result hot path."""
        heads = _SCALAR_HEADS
        parts = []
        for key, value in metrics.items():
            head = heads.get(key)
            if head is None:
                head = heads[key] = _scalar_head(TAG_PREFIX + key)
            try:
                packed = _FLOAT.pack(value)
            except OverflowError:  # beyond float32 (e.g. 1e308): TensorBoard's own add_scalar shows it as inf
                packed = _FLOAT.pack(math.copysign(math.inf, value))
            parts.append(head + packed)
        summary = b"".join(parts)
        event = b"\x09" + _DOUBLE.pack(time.time())
        if step is not None:
            event += b"\x10" + _varint(int(step))
        self._write_bytes(event + b"\x2a" + _varint(len(summary)) + summary)
        if time.monotonic() >= self._next_flush:
            self.flush()

    def add_summary(self, summary: Any, global_step: int | None = None) -> None:
        """Append Event{wall_time, step, summary} for a tensorboardX `Summary` protobuf message."""
        data = summary.SerializeToString()
        self._write_bytes(_event_head(global_step) + b"\x2a" + _varint(len(data)) + data)
        if time.monotonic() >= self._next_flush:
            self.flush()

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError as exc:
            raise storage_error(exc, self._file.name) from exc
        self._next_flush = time.monotonic() + self._flush_secs

    def close(self) -> None:
        try:
            self._file.close()  # the file is closed even when its last flush fails
        except OSError as exc:
            raise storage_error(exc, self._file.name) from exc


_FLOAT = struct.Struct("<f")
_DOUBLE = struct.Struct("<d")
_SCALAR_HEADS: dict[str, bytes] = {}
_FILE_VERSION = b"brain.Event:2"
_SESSION_LOG_START = b"\x3a\x02\x08\x01"  # Event.session_log (field 7) = SessionLog{status (field 1): START}
_MASKED_CRC32C: Callable[[bytes], int] | None = None


def _event_head(step: int | None) -> bytes:
    """An Event's first fields: wall_time (field 1, now) and, unless None or 0 (protobuf leaves 0 out), step."""
    head = b"\x09" + _DOUBLE.pack(time.time())
    return head + b"\x10" + _varint(int(step)) if step else head


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # int64 as protobuf encodes negatives
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _scalar_head(tag: str) -> bytes:
    """Bytes of `Summary.value` entry up to its float: field 1 (Value){field 1 tag, field 2 simple_value}."""
    encoded = tag.encode("utf-8")
    value_prefix = b"\x0a" + _varint(len(encoded)) + encoded + b"\x15"
    return b"\x0a" + _varint(len(value_prefix) + 4) + value_prefix


def _hparam_value(value: Any) -> bool | int | float | str | None:
    """A config value as an HParams value, or None when it is not a number, string or bool."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)):
        return value
    return None


def tensorboardx_available() -> bool:
    """True when tensorboardX can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("tensorboardX") is not None
