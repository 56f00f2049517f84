"""Object storage and local disk behind one small interface (fsspec underneath).

URIs: a local path, ``file://...`` or ``s3://bucket/prefix``. S3 uses the standard AWS
configuration chain (environment, profile, instance role; ``AWS_ENDPOINT_URL``
included): vidray never takes credentials as arguments and never prints them.

Retries are bounded here and only here: botocore retries transient errors (standard
mode, ``S3_MAX_ATTEMPTS`` attempts in all) and s3fs's own retry loop is set to a single
pass, so the two never multiply.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import IO, Any

import fsspec

#: Attempts per S3 request in all, the first included.
S3_MAX_ATTEMPTS = 5
#: Bytes read ahead on sequential S3 reads (tar streams, parquet column chunks).
S3_BLOCK_SIZE = 8 * 2**20
#: Bytes read ahead on a video opened by reference (``FileRef``): a decoder seeks to a
#: key frame and reads a GOP or so (1-4 MiB at 1080p), so a smaller block than a
#: stream's keeps sparse sampling of a long video from downloading much it never uses.
S3_VIDEO_BLOCK_SIZE = 2 * 2**20


class StorageError(Exception):
    """Storage cannot be reached or holds nothing usable; the message is one line."""


@cache
def _s3() -> fsspec.AbstractFileSystem:
    import s3fs

    fs = s3fs.S3FileSystem(
        default_block_size=S3_BLOCK_SIZE,
        config_kwargs={"retries": {"mode": "standard", "total_max_attempts": S3_MAX_ATTEMPTS}},
    )
    fs.retries = 1  # s3fs's own loop: one pass, botocore does the retrying
    return fs


@cache
def _local() -> fsspec.AbstractFileSystem:
    return fsspec.filesystem("file")


@dataclass(frozen=True)
class Location:
    """A root directory on some filesystem. Cheap to pickle: it holds only the URI."""

    uri: str

    @property
    def scheme(self) -> str:
        return "s3" if self.uri.startswith("s3://") else "file"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return _s3() if self.scheme == "s3" else _local()

    @property
    def path(self) -> str:
        """The root as the filesystem names it (no scheme)."""
        if self.scheme == "s3":
            return self.uri[len("s3://") :].rstrip("/")
        return self.uri.rstrip("/") or "/"

    def join(self, *parts: str) -> str:
        return posixpath.join(self.path, *parts)

    def relative(self, path: str) -> str:
        return posixpath.relpath(path, self.path)

    def display(self, rel: str = "") -> str:
        base = self.uri.rstrip("/")
        return f"{base}/{rel}" if rel else base

    def identity(self) -> str:
        """Where the root is, however it was spelled: ``s3://bucket/prefix`` without
        trailing slashes; on local disk the absolute path with symlinks resolved (a
        relative path, ``file://``, a trailing slash and a symlinked parent of one
        folder give the same string; two folders never do)."""
        if self.scheme == "s3":
            return f"s3://{self.path}"
        return os.path.realpath(self.path)


@dataclass(frozen=True)
class FileRef:
    """A file named by its root and relative path, opened where it is read (a decoder
    process): what travels between processes instead of the file's bytes. With
    ``size``, the file is the ``size`` bytes at ``offset`` of that path (a member of
    an uncompressed tar)."""

    root: str
    rel: str
    offset: int = 0
    size: int | None = None

    def open(self) -> IO[bytes]:
        """Seekable and read by ranges: local files directly, S3 objects in
        ``S3_VIDEO_BLOCK_SIZE`` blocks (s3fs's read-ahead cache, one block held), so
        memory stays bounded and a seek costs at most one block."""
        loc = Location(self.root)
        if loc.scheme == "s3":
            path = loc.join(self.rel)
            f = loc.fs.open(path, "rb", block_size=S3_VIDEO_BLOCK_SIZE, cache_type="readahead")
        else:
            f = open_read(loc, self.rel)
        if self.size is None:
            return f
        return _Window(f, self.offset, self.size)

    def display(self) -> str:
        return Location(self.root).display(self.rel)


class _Window(io.RawIOBase):
    """The ``size`` bytes at ``offset`` of a seekable file, as a file of its own."""

    def __init__(self, f: IO[bytes], offset: int, size: int) -> None:
        self._f, self._offset, self._size, self._pos = f, offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        self._f.seek(self._offset + self._pos)
        data = self._f.read(n)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def location(uri: str) -> Location:
    """Parse a user-given URI; local paths become absolute."""
    if uri.startswith("s3://"):
        bucket = uri[len("s3://") :].split("/", 1)[0]
        if "@" in bucket or ":" in bucket:
            # Never echo it: the part before '@' may be a key and secret.
            raise StorageError(
                "S3 URIs must not carry credentials; use the AWS configuration chain"
            )
        if not bucket:
            raise StorageError(f"bad S3 URI {uri!r}: expected s3://bucket/prefix")
        return Location(uri.rstrip("/"))
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    if "://" in uri:
        raise StorageError(f"unsupported storage URI {uri!r}: use a local path, file:// or s3://")
    return Location(os.path.abspath(uri))


def identity(uri: str) -> str:
    """``Location.identity`` of a user-given URI (relative paths against the current
    directory); a URI ``location`` refuses is its own identity."""
    try:
        return location(uri).identity()
    except StorageError:
        return uri


def check_reachable(loc: Location) -> None:
    """Fail fast, in one line, when the storage behind ``loc`` cannot be used."""
    try:
        if loc.scheme == "s3":
            bucket = loc.path.split("/", 1)[0]
            loc.fs.ls(bucket, refresh=True)
        elif not os.path.exists(loc.path):
            return
    except FileNotFoundError as e:
        raise StorageError(f"{loc.display()}: bucket not found") from e
    except PermissionError as e:
        raise StorageError(f"{loc.display()}: access denied") from e
    except Exception as e:
        raise StorageError(f"cannot reach {loc.display()}: {type(e).__name__}: {e}") from e


def is_file(loc: Location) -> bool:
    """Whether ``loc`` names a file (an object) rather than a folder."""
    return bool(loc.fs.isfile(loc.path))


def check_folder(loc: Location, what: str, *, write: bool = False) -> None:
    """Refuse, in one line, a ``loc`` that cannot be a folder: a file, or (local disk)
    a path below a file, or one this process may not read (``write``: create or
    write) for lack of permission."""
    if loc.scheme == "s3":
        if is_file(loc):
            raise StorageError(f"{what} {loc.display()} is a file, not a folder")
        return
    path = loc.path
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        if path == loc.path:
            raise StorageError(f"{what} {loc.display()} is a file, not a folder")
        raise StorageError(f"{what} {loc.display()} lies below {path}, which is a file")
    needed = os.W_OK | os.X_OK if write else os.R_OK | os.X_OK
    if not os.access(path, needed):
        verb = "write into" if write else "read"
        raise StorageError(f"{what} {loc.display()}: permission denied (cannot {verb} {path})")


def list_files(
    loc: Location, suffixes: tuple[str, ...], subdir: str = "", maxdepth: int | None = None
) -> list[str]:
    """Sorted relative paths of files under ``loc/subdir`` ending in ``suffixes``, at
    most ``maxdepth`` levels down (None: all)."""
    base = loc.join(subdir) if subdir else loc.path
    try:
        found = loc.fs.find(base, maxdepth=maxdepth)
    except FileNotFoundError:
        return []
    # Suffixes match in any case: camera and Flickr downloads are often ``.MOV``/``.MP4``.
    rels = [loc.relative(p) for p in found if p.lower().endswith(suffixes)]
    return sorted(r for r in rels if not r.startswith(".."))


def iter_files(loc: Location, suffixes: tuple[str, ...], subdir: str = "") -> Iterator[str]:
    """As ``list_files``, unsorted and streamed: relative paths a listing page (S3: up
    to 1,000 keys) or a directory entry at a time, so memory holds one page of names,
    never the whole listing."""
    base = loc.join(subdir) if subdir else loc.path
    paths = _s3_keys(loc, base, folder=True) if loc.scheme == "s3" else _local_files(base)
    for path in paths:
        if path.lower().endswith(suffixes):
            yield loc.relative(path)


def _local_files(base: str) -> Iterator[str]:
    try:
        entries = os.scandir(base)
    except (FileNotFoundError, NotADirectoryError):
        return
    with entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                yield from _local_files(entry.path)
            elif ".tmp-" not in entry.name:  # an atomic write under way
                yield entry.path


def _s3_keys(loc: Location, base: str, *, folder: bool = False) -> Iterator[str]:
    """The keys that start with ``base`` (``bucket/key prefix``; ``folder``: the keys
    below the folder ``base``), one ``list_objects_v2`` page at a time through s3fs's
    request path (its session, retries and endpoint)."""
    from fsspec.asyn import sync

    fs = loc.fs
    bucket, _, prefix = base.partition("/")
    if folder and prefix:
        prefix += "/"
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        page = sync(fs.loop, fs._call_s3, "list_objects_v2", **kwargs)
        for item in page.get("Contents", []):
            yield f"{bucket}/{item['Key']}"
        if not page.get("IsTruncated"):
            return
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def subfolders(loc: Location, rel: str = "") -> list[str]:
    """Sorted names of the folders directly inside ``loc/rel`` (none if it is missing):
    one listing call, nothing below."""
    try:
        entries = loc.fs.ls(loc.join(rel) if rel else loc.path, detail=True)
    except FileNotFoundError:
        return []
    return sorted(
        posixpath.basename(e["name"].rstrip("/")) for e in entries if e.get("type") == "directory"
    )


def read_many(
    loc: Location,
    rels: list[str],
    *,
    end: int | None = None,
    batch: int = 64,
    missing_ok: bool = False,
) -> Iterator[tuple[str, bytes]]:
    """Each of ``rels`` with its bytes (``end``: its first ``end`` bytes), in order,
    ``batch`` files at a time: on S3 the requests of a batch run concurrently, so
    reading many small files costs a round trip a batch, not one a file.
    ``missing_ok``: a file removed since it was listed is left out."""
    for at in range(0, len(rels), batch):
        part = rels[at : at + batch]
        paths = [loc.join(rel) for rel in part]
        bodies = loc.fs.cat_ranges(paths, 0, end, on_error="return")
        for rel, body in zip(part, bodies, strict=True):
            if isinstance(body, FileNotFoundError) and missing_ok:
                continue
            if isinstance(body, BaseException):
                raise body
            yield rel, body


def open_read(loc: Location, rel: str) -> IO[bytes]:
    return loc.fs.open(loc.join(rel), "rb")


def write_atomic(loc: Location, rel: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Write ``rel`` so that no reader ever sees a partial file (``atomic_writer``)."""
    with atomic_writer(loc, rel) as f:
        write(f)


@contextlib.contextmanager
def atomic_writer(loc: Location, rel: str) -> Iterator[IO[bytes]]:
    """A file to write ``rel`` through, appearing whole when the block ends, and not
    at all if it raises. An S3 object appears only when its upload completes (s3fs
    uploads parts as they fill); on a local disk the data goes to a temporary name
    in the same directory and is renamed into place."""
    path = loc.join(rel)
    fs = loc.fs
    if loc.scheme == "s3":
        f = fs.open(path, "wb")
        try:
            yield f
        except BaseException:
            with contextlib.suppress(Exception):
                f.discard()  # abort the multipart upload: no object appears
                f.closed = True  # nothing left to flush when it is collected
            raise
        f.close()
        return
    fs.makedirs(posixpath.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def remove(loc: Location, rel: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        loc.fs.rm(loc.join(rel))


def remove_existing(loc: Location, rels: list[str]) -> None:
    """Remove those of ``rels`` that exist. On S3 they are found by listing the keys
    that start with the paths' common prefix (one request a 1,000 keys), then removed
    in batched delete requests: nothing is asked about a path that is not there."""
    if not rels:
        return
    if loc.scheme != "s3":
        for rel in rels:
            with contextlib.suppress(FileNotFoundError):
                os.remove(loc.join(rel))
        return
    from fsspec.asyn import sync

    fs = loc.fs
    wanted = {loc.join(rel) for rel in rels}
    # A prefix of characters, not of path components: the records of one shard
    # (``__units/<shard>-00000.json`` ...) share ``__units/<shard>-0``.
    prefix = os.path.commonprefix(rels)  # noqa: RUF071
    found = [key for key in _s3_keys(loc, loc.join(prefix)) if key in wanted]
    for start in range(0, len(found), 1000):  # at most 1,000 keys a request
        bucket = found[0].split("/", 1)[0]
        objects = [{"Key": key.split("/", 1)[1]} for key in found[start : start + 1000]]
        delete = {"Objects": objects, "Quiet": True}
        sync(fs.loop, fs._call_s3, "delete_objects", Bucket=bucket, Delete=delete)
    for folder in {posixpath.dirname(key) for key in found}:
        fs.invalidate_cache(folder)


def exists(loc: Location, rel: str) -> bool:
    return bool(loc.fs.exists(loc.join(rel)))


def move(loc: Location, src: str, dst: str) -> None:
    """Rename ``src`` to ``dst`` (replacing it). Local: an atomic rename. S3: a
    server-side copy, which appears whole, then a delete of ``src``."""
    if loc.scheme == "s3":
        loc.fs.mv(loc.join(src), loc.join(dst))
        return
    os.makedirs(posixpath.dirname(loc.join(dst)), exist_ok=True)
    os.replace(loc.join(src), loc.join(dst))


def remove_tree(loc: Location, rel: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        loc.fs.rm(loc.join(rel), recursive=True)
