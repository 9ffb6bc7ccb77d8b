"""The dataset store: files kept by content (``<sha256><suffix>``) in a folder or an object store.

Everything goes through fsspec, so a folder on the embedded defaults and ``s3://bucket/prefix``
in production are the same code. A file is written under a temporary name and moved into place
once complete, so a reader never sees half a file; the same bytes uploaded twice are one file.
Readers get a local path: the file itself for a local folder, else a copy downloaded once into
the process's cache (keyed by the fingerprint, so it never goes stale).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from service.settings import Settings

CHUNK_BYTES = 1 << 20


class TooLarge(Exception):
    """The file is larger than the store accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Stored:
    """A file in the store: its key, SHA-256 and size."""

    key: str
    sha256: str
    size: int


class DatasetStore:
    """A folder or fsspec URL holding dataset files."""

    def __init__(self, url: str, cache_dir: Path, options: dict[str, Any] | None = None) -> None:
        self.fs, root = fsspec.core.url_to_fs(url, **(options or {}))
        self.root = root.rstrip("/")
        self.cache_dir = cache_dir
        self.is_local = isinstance(self.fs, LocalFileSystem)
        if self.is_local:
            self.fs.makedirs(self.root, exist_ok=True)

    def put(self, source: BinaryIO, suffix: str, max_bytes: int) -> Stored:
        """Copy ``source`` into the store in chunks, hashing as it goes; :class:`TooLarge` (and
        nothing stored) past ``max_bytes``. The bytes go to a local file first (in the store's
        folder, or this process's cache for a remote store, which then keeps it as its copy)."""
        staging_dir = Path(self.root) if self.is_local else self.cache_dir
        staging_dir.mkdir(parents=True, exist_ok=True)
        staging = staging_dir / f".incoming-{uuid.uuid4().hex}{suffix}"
        digest, size = hashlib.sha256(), 0
        try:
            with staging.open("wb") as target:
                for chunk in _chunks(source):
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(max_bytes)
                    digest.update(chunk)
                    target.write(chunk)
            key = f"{digest.hexdigest()}{suffix}"
            if not self.fs.exists(self._path(key)):
                if not self.is_local:
                    self.fs.put_file(str(staging), self._path(key))
                local = Path(self._path(key)) if self.is_local else self.cache_dir / key
                os.replace(staging, local)
        finally:
            staging.unlink(missing_ok=True)
        return Stored(key, digest.hexdigest(), size)

    def put_file(self, key: str, path: Path) -> None:
        """Store the local file ``path`` under ``key`` (a file derived from a stored one)."""
        self.fs.put_file(str(path), self._path(key))

    def local_path(self, key: str) -> Path:
        """A local file with the stored bytes of ``key`` (downloaded once if the store is
        remote)."""
        if self.is_local:
            return Path(self._path(key))
        cached = self.cache_dir / key
        if not cached.exists():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            handle, partial = tempfile.mkstemp(dir=self.cache_dir, suffix=".part")
            os.close(handle)
            try:
                self.fs.get(self._path(key), partial)
                os.replace(partial, cached)
            finally:
                Path(partial).unlink(missing_ok=True)
        return cached

    def local_root(self) -> Path:
        """The folder local copies are read from (for the engine's data roots)."""
        return Path(self.root) if self.is_local else self.cache_dir

    def delete(self, key: str) -> None:
        """Remove a stored file and its sample (and this process's cached copies)."""
        for name in (key, sample_key(key)):
            if self.fs.exists(self._path(name)):
                self.fs.rm(self._path(name))
            if not self.is_local:
                (self.cache_dir / name).unlink(missing_ok=True)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"


def sample_key(key: str) -> str:
    """Where the sample of the file ``key`` is kept: its header and first rows, which is all a
    submission reads (a compressed CSV's sample is plain CSV)."""
    fingerprint, _, suffix = key.partition(".")
    plain = ".csv" if suffix.startswith("csv") else f".{suffix}"
    return f"{fingerprint}.sample{plain}"


def _chunks(source: BinaryIO) -> Iterable[bytes]:
    while chunk := source.read(CHUNK_BYTES):
        yield chunk


def dataset_store(settings: Settings) -> DatasetStore:
    """The process's dataset store, as the settings configure it (made once)."""
    url = settings.resolved_dataset_store
    return _store(url, settings.dataset_cache_dir, json.dumps(settings.storage_options(url)))


@functools.lru_cache(maxsize=4)
def _store(url: str, cache_dir: Path, options: str) -> DatasetStore:
    return DatasetStore(url, cache_dir, json.loads(options))
