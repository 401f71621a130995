"""Storage: where an experiment's results and checkpoints outlive the machines that made them.

`storage_path` (tune.run, RunConfig) or the seed's `upload_dir` names a local folder (an NFS mount, say) or a
URI (`s3://bucket/prefix`, and every other scheme fsspec knows: `gs://`, `az://`, `memory://`, ...). The
experiment's layout there is the local one (`<storage>/<name>/<trial folder>/...`, see `layout.py`).

fsspec rather than pyarrow.fs: fsspec and s3fs are pure Python (no 40 MB compiled wheel), one interface
for local folders and every object store, and s3fs (through botocore) reads the standard AWS environment
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...), so nothing tunelab-specific is needed. fsspec is imported
only when storage is used (`import tunelab` stays light).

Every operation is retried with backoff (`RETRIES`); what still fails raises `StorageError`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from tunelab.error import TuneError
from tunelab.storage import layout

T = TypeVar("T")

#: attempts per storage operation, and the first wait between attempts (doubled each time)
RETRIES = int(os.environ.get("TUNELAB_STORAGE_RETRIES", "4"))
BACKOFF_S = float(os.environ.get("TUNELAB_STORAGE_BACKOFF_S", "0.25"))


class StorageError(TuneError):
    """A storage operation failed even after its retries."""


def is_uri(path: str) -> bool:
    """True for `scheme://...` (other than file://), False for a local path."""
    return "://" in path and not path.startswith("file://")


def _local(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path[len("file://"):] if path.startswith("file://") else path))


def join(uri: str, *parts: str) -> str:
    """`uri` with path parts appended ('/' separated, whatever the local separator)."""
    out = uri.rstrip("/")
    for part in parts:
        part = part.replace(os.sep, "/").strip("/")
        if part:
            out = f"{out}/{part}"
    return out


class Storage:
    """One storage location (a folder or a URI prefix): copy files and folders in and out, list, delete.

    Picklable (only the URI travels; the fsspec filesystem is made again where it is used), so a worker or a
    Ray actor gets the same storage as the driver and uploads its own checkpoints."""

    def __init__(self, uri: str):
        if not isinstance(uri, str) or not uri:
            raise TuneError(f"storage_path must be a non-empty string (a folder or a URI such as s3://bucket/prefix), "
                            f"got {uri!r}")
        self.uri = uri.rstrip("/") if is_uri(uri) else _local(uri)
        self._fs: Any = None
        self._root = ""

    def __getstate__(self) -> dict:
        return {"uri": self.uri}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["uri"])  # type: ignore[misc] # rebuild the lazy fields

    def __repr__(self) -> str:
        return f"Storage({self.uri!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Storage) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def is_local(self) -> bool:
        return not is_uri(self.uri)

    def child(self, *parts: str) -> "Storage":
        """The storage location `parts` below this one."""
        return Storage(join(self.uri, *parts) if not self.is_local else os.path.join(self.uri, *parts))

    # -- the filesystem ----------------------------------------------------------------------------
    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs, self._root = open_filesystem(self.uri)
        return self._fs

    def _path(self, rel: str = "") -> str:
        _ = self.fs  # sets _root
        return join(self._root, rel) if rel else self._root

    # -- checks ------------------------------------------------------------------------------------
    def check(self, where: str) -> None:
        """Write and delete a probe file: an unknown scheme, a missing bucket or refused credentials become a
        TuneError now, before any trial starts."""
        probe = f"{layout.STATE_DIR}/{layout.STORAGE_PROBE_FILE}"
        try:
            if self.is_local:
                os.makedirs(os.path.join(self.uri, layout.STATE_DIR), exist_ok=True)
            self.fs.pipe_file(self._path(probe), b"tunelab")
            self.fs.rm_file(self._path(probe))
        except TuneError:
            raise
        except Exception as exc:
            raise TuneError(f"{where}: storage {self.uri!r} cannot be written: {type(exc).__name__}: {exc}. "
                            f"{_hint(self.uri, exc)}") from exc

    # -- files and folders -------------------------------------------------------------------------
    def put_file(self, local_file: str, rel: str, retries: int | None = None) -> None:
        target = self._path(rel)
        if self.is_local:
            self._retry(f"copy {local_file} to {target}", lambda: _copy_local(local_file, target), retries)
        else:
            self._retry(f"upload {local_file} to {self.uri}/{rel}", lambda: self.fs.put_file(local_file, target),
                        retries)

    def put_bytes(self, data: bytes, rel: str) -> None:
        target = self._path(rel)
        if self.is_local:
            self._retry(f"write {target}", lambda: _write_local(data, target))
        else:
            self._retry(f"upload {self.uri}/{rel}", lambda: self.fs.pipe_file(target, data))

    def put_dir(self, local_dir: str, rel: str, retries: int | None = None) -> int:
        """Copy the folder `local_dir` to `rel` (file by file, a checkpoint's metadata file last, so that a
        checkpoint in storage with its metadata is complete); returns the bytes copied. `retries`: attempts
        per file (default `RETRIES`)."""
        copied = 0
        for path, name in sorted(_walk(local_dir), key=lambda pn: pn[1].endswith(layout.CHECKPOINT_METADATA_FILE)):
            self.put_file(path, join(rel, name), retries)
            copied += os.path.getsize(path)
        return copied

    def get_dir(self, rel: str, local_dir: str) -> int:
        """Copy the folder `rel` into `local_dir`, atomically (a temporary folder renamed into place);
        returns the bytes copied. StorageError when there is no such folder."""
        files = self.list_files(rel)
        if not files:
            raise StorageError(f"{self.uri}: {rel} is not in storage (no files under it)")
        tmp = layout.hidden_tmp_path(local_dir.rstrip(os.sep), os.getpid())
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        copied = 0
        for name in files:
            target = os.path.join(tmp, *name.split("/"))
            self.get_file(join(rel, name), target)
            copied += os.path.getsize(target)
        if os.path.isdir(local_dir):
            shutil.rmtree(local_dir, ignore_errors=True)
        os.makedirs(os.path.dirname(os.path.abspath(local_dir)), exist_ok=True)
        os.replace(tmp, local_dir)
        return copied

    def get_file(self, rel: str, local_file: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(local_file)), exist_ok=True)
        source = self._path(rel)
        if self.is_local:
            self._retry(f"copy {source} to {local_file}", lambda: _copy_local(source, local_file))
        else:
            self._retry(f"download {self.uri}/{rel}", lambda: self.fs.get_file(source, local_file))

    def list_files(self, rel: str = "") -> list[str]:
        """Every file below `rel`, as '/'-separated paths relative to `rel` (empty when there is none)."""
        base = self._path(rel)

        def find() -> list[str]:
            try:
                found = self.fs.find(base)
            except FileNotFoundError:
                return []
            root = base.rstrip("/") + "/"
            return sorted(p[len(root):] for p in (_strip_protocol(p) for p in found) if p.startswith(root))

        return self._retry(f"list {self.uri}/{rel}", find)

    def list_stamps(self, rel: str = "") -> dict[str, object]:
        """Every file below `rel` -> what changes when it changes (size and modification time or ETag)."""
        base = self._path(rel)

        def find() -> dict[str, object]:
            try:
                found = self.fs.find(base, detail=True)
            except FileNotFoundError:
                return {}
            root = base.rstrip("/") + "/"
            stamps: dict[str, object] = {}
            for path, info in found.items():
                path = _strip_protocol(path)
                if path.startswith(root):
                    stamps[path[len(root):]] = (info.get("size"), info.get("mtime") or info.get("LastModified"),
                                                info.get("ETag"))
            return stamps

        return self._retry(f"list {self.uri}/{rel}", find)

    def exists(self, rel: str) -> bool:
        return bool(self._retry(f"look up {self.uri}/{rel}", lambda: self.fs.exists(self._path(rel))))

    def delete(self, rel: str) -> None:
        """Remove a file or folder (nothing if it is not there)."""
        path = self._path(rel)

        def rm() -> None:
            try:
                self.fs.rm(path, recursive=True)
            except FileNotFoundError:
                pass

        self._retry(f"delete {self.uri}/{rel}", rm)

    def _retry(self, what: str, operation: Callable[[], T], retries: int | None = None) -> T:
        return retrying(what, operation, retries)


def retrying(what: str, operation: Callable[[], T], retries: int | None = None, backoff_s: float | None = None) -> T:
    """Run `operation`, retrying failures (not a missing file) with exponential backoff; StorageError at last."""
    attempts = max(1, RETRIES if retries is None else retries)
    wait = BACKOFF_S if backoff_s is None else backoff_s
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except (FileNotFoundError, StorageError):
            raise
        except Exception as exc:
            if attempt == attempts:
                raise StorageError(f"storage: could not {what} after {attempts} attempts: {type(exc).__name__}: {exc}"
                                   ) from exc
            time.sleep(wait)
            wait *= 2
    raise AssertionError("unreachable")


def open_filesystem(uri: str) -> tuple[Any, str]:
    """The fsspec filesystem and root path of `uri` (a TuneError for an unknown scheme or a missing library)."""
    try:
        import fsspec
    except ImportError:
        raise TuneError(f"storage_path={uri!r} needs fsspec (a dependency of tunelab): pip install fsspec (and "
                        "'tunelab[s3]' for s3:// URIs)") from None
    try:
        # no listings cache: other processes (workers, another driver) write the same prefix, and a cached
        # listing would hide their objects (s3fs answers `exists` and `info` from it)
        fs, root = (fsspec.core.url_to_fs(uri, use_listings_cache=False) if is_uri(uri)
                    else fsspec.core.url_to_fs(_local(uri)))
    except ValueError as exc:
        known = ", ".join(sorted(s for s in fsspec.available_protocols() if len(s) > 1)[:30])
        raise TuneError(f"storage_path={uri!r}: {exc}. Use a local folder or a URI whose scheme fsspec knows "
                        f"(such as s3://bucket/prefix; known schemes: {known})") from None
    except ImportError as exc:
        scheme = uri.split("://", 1)[0]
        extra = "s3" if scheme in ("s3", "s3a") else scheme
        raise TuneError(f"storage_path={uri!r}: the library for {scheme}:// is not installed ({exc}); "
                        f"pip install 'tunelab[{extra}]'") from None
    return fs, root


def _strip_protocol(path: str) -> str:
    return path.split("://", 1)[1] if "://" in path else path


def _walk(local_dir: str) -> Iterator[tuple[str, str]]:
    """(absolute path, '/'-separated path relative to `local_dir`) of every file below it."""
    for folder, _, files in os.walk(local_dir):
        for name in files:
            path = os.path.join(folder, name)
            yield path, os.path.relpath(path, local_dir).replace(os.sep, "/")


def _copy_local(source: str, target: str) -> None:
    """Copy one file atomically (a temporary name renamed into place)."""
    import shutil

    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = layout.hidden_tmp_path(target, os.getpid())
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def _write_local(data: bytes, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = layout.hidden_tmp_path(target, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, target)


def _hint(uri: str, exc: BaseException) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if "bucket" in text and ("not exist" in text or "nosuchbucket" in text):
        return "Create the bucket first, or fix its name."
    if isinstance(exc, PermissionError) or any(word in text for word in (
            "accessdenied", "access denied", "invalidaccesskeyid", "access key", "signature", "forbidden",
            "credentials")):
        return ("The credentials were refused: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or a profile) with "
                "write access to it.")
    if "connect" in text or "endpoint" in text:
        return "The storage service cannot be reached: check AWS_ENDPOINT_URL / the network."
    return "Check the path and its permissions."
