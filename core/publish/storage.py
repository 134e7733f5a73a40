"""The object store behind ``--repo s3://bucket/prefix`` (or any fsspec URL).

One small seam over fsspec: the publisher sees repository-relative keys and bytes, and
every foreign error (botocore, aiohttp, OSError) becomes a :class:`StorageError` that
says what to check. s3fs reads its usual environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``~/.aws``) and ``--storage-option
KEY=VALUE`` adds keyword arguments for the filesystem (``endpoint_url=…``, ``anon=true``).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from core.errors import StorageBackendMissingError, StorageError, UsageError

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://.+")
IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control of objects and manifests: named by their content, never changed."""
DOCUMENT = "public, max-age=60"
"""Cache-Control of the products/ documents and signed metadata, which are replaced."""
_S3 = ("s3", "s3a")
_BUCKETED = (*_S3, "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "b2")
"""Stores whose URL starts with a bucket (or container) that must exist first."""


def is_store_url(repo: str | Path) -> bool:
    """Whether ``--repo`` names an object store (``scheme://…``) rather than a folder."""
    return isinstance(repo, str) and bool(_URL.fullmatch(repo))


def parse_storage_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``--storage-option KEY=VALUE`` (repeatable) → filesystem keyword arguments;
    ``true``/``false`` become booleans, everything else stays a string."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"--storage-option {pair!r} is not KEY=VALUE.")
        lowered = value.lower()
        options[key] = {"true": True, "false": False}.get(lowered, value)
    return options


def cache_folder(url: str, options: dict[str, Any], given: Path | None) -> Path:
    """The local mirror of the store at ``url``: ``--cache DIR``, else a folder under
    ``$SLIPSTREAM_HOME/publish-cache/`` named after the URL and its endpoint (the same
    bucket name on two endpoints is two stores)."""
    if given is not None:
        return given
    endpoint = str(options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL", ""))
    digest = hashlib.sha256(f"{url}\n{endpoint}".encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", url.split("://", 1)[1]).strip("-.")[:48]
    configured = os.environ.get("SLIPSTREAM_HOME")
    home = Path(configured) if configured else platformdirs.user_data_path("slipstream")
    return home / "publish-cache" / f"{slug}-{digest}"


def _safe(rel: str) -> bool:
    parts = rel.split("/")
    return "\\" not in rel and all(p not in ("", ".", "..") for p in parts)


@dataclass(frozen=True)
class StoredObject:
    size: int
    md5: str | None
    """The content's md5 when the store says it (an S3 ETag of a single-part upload)."""


class ObjectStorage:
    """A repository's keys in an fsspec filesystem, under the URL's path."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        if not is_store_url(url):
            raise UsageError(f"{url!r} is not a storage URL (scheme://bucket/prefix).")
        self.url = url.rstrip("/")
        self.protocol = url.split("://", 1)[0].lower()
        if self.protocol in _S3:
            # Every look is a request: a listing cached by s3fs would hide another's writes.
            options.setdefault("use_listings_cache", False)
        if self.protocol in ("file", "local"):
            options.setdefault("auto_mkdir", True)  # as a bucket has no folders to make
        try:
            import fsspec.core  # type: ignore[import-untyped]  # no type information

            fs, root = fsspec.core.url_to_fs(self.url, skip_instance_cache=True, **options)
        except ImportError as exc:
            extra = "slipstream[s3]" if self.protocol in _S3 else f"the fsspec backend for {url}"
            raise StorageBackendMissingError(f"Install {extra} ({exc}).") from None
        except ValueError as exc:
            raise StorageBackendMissingError(f"{url}: {exc}.") from None
        except TypeError as exc:
            raise UsageError(f"A --storage-option is not understood: {exc}.") from None
        self.fs: Any = fs
        self.root = str(root).rstrip("/")

    def key(self, rel: str) -> str:
        return f"{self.root}/{rel}" if self.root else rel

    def _error(self, exc: BaseException, action: str, rel: str = "") -> StorageError:
        """The sentence a publisher can act on, for a foreign error of ``action``."""
        where = f"{self.url}/{rel}" if rel else self.url
        name = type(exc).__name__
        text = str(exc) or name
        if "Credentials" in name or "credentials" in text.lower():
            why = (
                "no credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(or ~/.aws/credentials, or --storage-option key=… secret=…)"
            )
        elif isinstance(exc, PermissionError) or "AccessDenied" in text:
            why = "access was denied: check the credentials and the bucket's policy"
        elif isinstance(exc, FileNotFoundError):
            why = "the bucket or path does not exist: create the bucket first"
        elif isinstance(exc, ConnectionError) or "Connect" in name or "connect" in text.lower():
            endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
            why = f"the store could not be reached{f' at {endpoint}' if endpoint else ''} ({text})"
        else:
            why = text
        return StorageError(f"Could not {action} {where}: {why}.")

    def listing(self, prefix: str) -> dict[str, StoredObject]:
        """Every key under ``prefix`` (repository-relative), with its size and md5."""
        base = self.key(prefix).rstrip("/")
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            self.check_bucket()
            return {}
        except Exception as exc:  # the backend's own error types: wrapped at this seam
            raise self._error(exc, "list", prefix) from None
        out: dict[str, StoredObject] = {}
        start = len(self.root) + 1 if self.root else 0
        for name, info in found.items():
            if info.get("type", "file") != "file":
                continue
            etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
            md5 = etag if re.fullmatch(r"[0-9a-f]{32}", etag) else None
            rel = str(name)[start:]
            if _safe(rel):  # a key such as a/../../x must not lead out of the mirror
                out[rel] = StoredObject(int(info.get("size") or 0), md5)
        return out

    def check_bucket(self) -> None:
        """Fail with an actionable message unless the URL's bucket (or folder) exists."""
        if self.protocol not in _BUCKETED:
            return  # a folder tree: what is missing is made by the first upload
        top = self.root.split("/", 1)[0]
        try:
            there = self.fs.exists(top) if top else True
        except Exception as exc:
            raise self._error(exc, "reach") from None
        if not there:
            hint = " (and check AWS_ENDPOINT_URL or --storage-option endpoint_url=…)"
            raise StorageError(
                f"There is no bucket {top!r} at {self.url}: create it first"
                f"{hint if self.protocol in _S3 else ''}."
            )

    def read(self, rel: str) -> bytes | None:
        """The bytes at ``rel``, or ``None`` when the store has no such key."""
        try:
            return bytes(self.fs.cat_file(self.key(rel)))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error(exc, "read", rel) from None

    def exists(self, rel: str) -> bool:
        try:
            return bool(self.fs.exists(self.key(rel)))
        except Exception as exc:
            raise self._error(exc, "look for", rel) from None

    def upload(self, rel: str, source: Path, *, immutable: bool) -> None:
        """Put the local file ``source`` at ``rel`` (one request: readers see the old
        object or the whole new one)."""
        extra: dict[str, Any] = {}
        if self.protocol in _S3:
            kind = mimetypes.guess_type(rel)[0] if "." in rel.rsplit("/", 1)[-1] else None
            extra = {
                "ContentType": kind or "application/octet-stream",
                "CacheControl": IMMUTABLE if immutable else DOCUMENT,
            }
        try:
            self.fs.put_file(str(source), self.key(rel), **extra)
        except Exception as exc:
            raise self._error(exc, "upload", rel) from None

    def delete(self, rels: Iterable[str]) -> None:
        keys = [self.key(r) for r in rels]
        if not keys:
            return
        try:
            self.fs.rm(keys)
        except FileNotFoundError:
            pass  # already gone: what deleting wanted
        except Exception as exc:
            raise self._error(exc, "delete", keys[0]) from None
