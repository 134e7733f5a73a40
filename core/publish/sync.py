"""A repository in object storage, published through a local mirror.

``publish``, ``promote``, ``prune``, ``keys`` and ``timestamp`` work on a repository
folder exactly as they do for ``--repo DIR``; for ``--repo s3://bucket/prefix`` that
folder is a mirror of the store, kept under ``$SLIPSTREAM_HOME/publish-cache/`` (or
``--cache DIR``). A run, inside :class:`RemoteRepo`:

1. **pull**: the store's ``products/`` and ``metadata/`` documents replace the mirror's
   (the store is the truth for what players see), and every manifest they name that the
   mirror lacks is fetched. A chunk of an old build is fetched only when the patch chain
   reads it (:func:`core.publish.catalog.objects_from`);
2. the command runs on the mirror;
3. **push**, in the order that keeps every reader safe: objects (chunks, patch chunks,
   art), then manifests, then the ``products/`` documents with the builds lists last, then
   the signed ``metadata/`` with ``timestamp.json`` very last; only then is deleted what
   the store no longer needs (documents the mirror dropped, then objects ``prune`` swept).

An immutable key the upload ledger (``.slipstream/uploaded``, appended as each upload
finishes) knows is skipped without asking the store; any other is checked on its own
(``exists``), never by listing the bucket, so a rerun after an interruption uploads only
the rest. The ledger is dropped when the store's documents are not what this mirror last
left there (another publisher wrote), so a key someone else deleted is never assumed.
Nothing under ``.slipstream/`` (lock, patch cache, ``history.jsonl``) is ever uploaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from core.crashpoint import crashpoint
from core.errors import LocalIOError, RepositoryError, RepositoryLockedError
from core.format import layout
from core.fs import TEMP_PREFIX, atomic_write
from core.lock import FileLock
from core.progress import (
    NEVER_CANCELLED,
    CancelToken,
    Phase,
    Progress,
    ProgressSink,
    null_sink,
)
from core.publish import metrics
from core.publish.catalog import Catalog, objects_from, rel_from_link
from core.publish.storage import ObjectStorage, cache_folder

LEDGER_FILE = "uploaded"
STORE_STATE_FILE = "store-documents.json"
"""The md5 of every document this mirror last left in the store."""
UPLOAD_JOBS = 8
"""Uploads in flight: each waits on the network far more than on a core."""
_OBJECT_ROOTS = (
    f"{layout.CONTENT_ROOT}/store",
    f"{layout.CONTENT_ROOT}/patches/store",
    f"{layout.CONTENT_ROOT}/packs/store",
)
_MANIFEST_ROOTS = (
    f"{layout.CONTENT_ROOT}/meta",
    f"{layout.CONTENT_ROOT}/patches/meta",
    f"{layout.CONTENT_ROOT}/packs/meta",
)
_DOCUMENT_ROOTS = (layout.PRODUCTS_ROOT, layout.METADATA_ROOT)


@dataclass
class SyncReport:
    """What a run moved between the mirror and the store."""

    url: str
    cache: str
    documents_pulled: int = 0
    objects_pulled: int = 0
    objects_uploaded: int = 0
    bytes_uploaded: int = 0
    objects_present: int = 0
    """Not uploaded: the store said it already held them (an interrupted run's uploads)."""
    bytes_present: int = 0
    objects_known: int = 0
    """Not uploaded, not even checked: the ledger knew the store holds them."""
    documents_uploaded: list[str] = field(default_factory=list)
    keys_deleted: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class UploadLedger:
    """The immutable keys known to be in the store, one per line, appended as each upload
    (or check) finishes; a line torn by a crash has no newline and is ignored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.keys: set[str] = set()
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise LocalIOError.wrap(exc, "read the upload ledger") from None
        lines = text.split("\n")
        self.keys = {line for line in lines[:-1] if line}
        self._out: Any = None

    def __contains__(self, rel: str) -> bool:
        return rel in self.keys

    def add(self, rel: str) -> None:
        with self._lock:
            if rel in self.keys:
                return
            try:
                if self._out is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
                self._out.write(rel + "\n")
                self._out.flush()  # in the kernel's hands: survives a kill -9
            except OSError as exc:
                raise LocalIOError.wrap(exc, "write the upload ledger") from None
            self.keys.add(rel)

    def rewrite(self, keys: set[str]) -> None:
        """Keep only ``keys``; written before the store deletes anything, so a crash
        leaves the ledger knowing less than the store, never more."""
        with self._lock:
            self.close()
            try:
                atomic_write(self.path, "".join(f"{k}\n" for k in sorted(keys)).encode())
            except OSError as exc:
                raise LocalIOError.wrap(exc, "write the upload ledger") from None
            self.keys = set(keys)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as src:
        while piece := src.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


def _walk(root: Path, top: str, hidden: bool = False) -> dict[str, int]:
    """Repository-relative path → size of every file under ``top``; temporary (dotted)
    files only with ``hidden``."""
    found: dict[str, int] = {}
    base = root / top
    for dirpath, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if hidden or not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") and not hidden:
                continue
            path = Path(dirpath) / name
            found[path.relative_to(root).as_posix()] = path.stat().st_size
    return found


def _listings(documents: dict[str, str]) -> dict[str, str]:
    """The ``products/`` documents of ``documents``: what a publish or prune changes."""
    return {k: v for k, v in documents.items() if k.startswith(layout.PRODUCTS_ROOT + "/")}


def _is_art(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) == 4 and parts[0] == layout.PRODUCTS_ROOT and parts[2] == "art"


def _document_order(rel: str) -> tuple[int, str]:
    """products/ before metadata/; in products/ the builds lists last (builds-v2.json,
    then builds.json); in metadata/ root, targets, snapshot, then timestamp.json."""
    name = rel.rsplit("/", 1)[-1]
    if rel.startswith(layout.PRODUCTS_ROOT + "/"):
        rank = {"builds-v2.json": 1, "builds.json": 2}.get(name, 0)
    else:
        role = name.split(".")[-2] if name.count(".") >= 1 else name
        rank = 3 + {"root": 0, "targets": 1, "snapshot": 2, "timestamp": 3}.get(role, 0)
    return rank, rel


class RemoteRepo:
    """``with RemoteRepo(url) as remote:`` locks and pulls the mirror (``remote.mirror``);
    run the command on it, then ``remote.push()``."""

    def __init__(
        self,
        url: str,
        *,
        options: dict[str, Any] | None = None,
        cache: Path | None = None,
        progress: ProgressSink = null_sink,
        jobs: int = UPLOAD_JOBS,
    ) -> None:
        options = dict(options or {})
        self.store = ObjectStorage(url, options)
        self.mirror = cache_folder(self.store.url, options, cache).absolute()
        self.state = self.mirror / layout.STATE_DIR
        self.progress = progress
        self.jobs = jobs
        self.report = SyncReport(self.store.url, str(self.mirror))
        self._lock = FileLock(self.state / "sync-lock", RepositoryLockedError, "cache lock")
        self._ledger: UploadLedger | None = None
        self._pulled: dict[str, str] = {}
        """Document → md5, as the store holds it now."""
        self._deletions: set[str] = set()
        self._objects_ctx: Any = None
        self._started = time.monotonic()
        self._count_lock = threading.Lock()
        self._cancel: CancelToken = NEVER_CANCELLED
        self._history_size = 0

    @property
    def ledger(self) -> UploadLedger:
        assert self._ledger is not None, "use RemoteRepo in a with block"
        return self._ledger

    # --- the run -----------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._lock.__enter__()
        try:
            history = metrics.history_path(self.mirror)
            self._history_size = history.stat().st_size if history.is_file() else 0
            self._ledger = UploadLedger(self.state / LEDGER_FILE)
            self.pull()
            self._objects_ctx = objects_from(self.mirror, self._fetch_object)
            self._objects_ctx.__enter__()
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is not None:
                self._forget_history()
        finally:
            self._close()

    def _forget_history(self) -> None:
        """Drop the history records of a run whose push did not finish: its rerun adds
        its own, and the store never showed this one's."""
        history = metrics.history_path(self.mirror)
        try:
            if history.is_file() and history.stat().st_size > self._history_size:
                os.truncate(history, self._history_size)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "restore the publish history") from None

    def _close(self) -> None:
        if self._objects_ctx is not None:
            self._objects_ctx.__exit__(None, None, None)
            self._objects_ctx = None
        if self._ledger is not None:
            self._ledger.close()
        self._lock.__exit__(None, None, None)

    # --- pull --------------------------------------------------------------------------

    def pull(self) -> None:
        """Make the mirror's documents the store's, and fetch the manifests they name."""
        remote: dict[str, Any] = {}
        for top in _DOCUMENT_ROOTS:
            remote.update(self.store.listing(top + "/"))
        if not remote:
            self.store.check_bucket()  # an empty listing may be a missing bucket
        local = {rel for top in _DOCUMENT_ROOTS for rel in _walk(self.mirror, top)}
        stale = [rel for rel in sorted(remote) if self._differs(rel, remote[rel].md5)]
        self._parallel(stale, self._pull_document, "documents")
        self.report.documents_pulled = len(stale)
        try:
            for rel in sorted(local - set(remote)):
                self.mirror.joinpath(rel).unlink(missing_ok=True)
            self._drop_temporary_files()
            self._pulled = {rel: _md5(self.mirror / rel) for rel in remote}
        except OSError as exc:
            raise LocalIOError.wrap(exc, "update the cache") from None
        if _listings(self._pulled) != _listings(self._last_left()) and self.ledger.keys:
            # Another publisher changed the store's documents, and may have pruned: what
            # the ledger knows may be gone. (A timestamp refreshed elsewhere deletes nothing.)
            self.ledger.rewrite(set())
        self._leave(self._pulled)
        for rel in remote:
            if _is_art(rel):
                self.ledger.add(rel)
        self._pull_manifests()

    def _differs(self, rel: str, md5: str | None) -> bool:
        path = self.mirror / rel
        if not path.is_file():
            return True
        if md5 is None:
            return not _is_art(rel)  # art is named by its content; documents may change
        return _md5(path) != md5

    def _pull_document(self, rel: str) -> int:
        data = self.store.read(rel)
        if data is None:
            raise RepositoryError(f"{self.store.url}/{rel} vanished while it was being read.")
        self._write(rel, data)
        return len(data)

    def _write(self, rel: str, data: bytes) -> None:
        try:
            atomic_write(self.mirror / rel, data, fsync=False)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write into the cache") from None

    def _drop_temporary_files(self) -> None:
        """Temporary files, and the folders the store's documents no longer fill (an
        empty ``products/<p>/`` would still count as a published product)."""
        for top in _DOCUMENT_ROOTS:
            for path in (self.mirror / top).rglob(TEMP_PREFIX + "*"):
                path.unlink(missing_ok=True)
            for folder, _dirs, _files in sorted(os.walk(self.mirror / top), reverse=True):
                if not os.listdir(folder):
                    os.rmdir(folder)

    def _ensure(self, rel: str) -> None:
        """Fetch the immutable ``rel`` from the store unless the mirror holds it."""
        if (self.mirror / rel).is_file():
            return
        if not self._fetch_object(rel):
            raise RepositoryError(
                f"{self.store.url} lacks {rel}, which its documents name; "
                "the store is damaged (publish the build again)."
            )

    def _fetch_object(self, rel: str) -> bool:
        data = self.store.read(rel)
        if data is None:
            return False
        self._write(rel, data)
        self.ledger.add(rel)
        with self._count_lock:
            self.report.objects_pulled += 1
        return True

    def _pull_manifests(self) -> None:
        """Every manifest a listed build or a patch pair names, so the commands can read
        the whole chain (and signing can pin it) as if the mirror were the repository."""
        repo = layout.RepoLayout(self.mirror)
        products_dir = self.mirror / layout.PRODUCTS_ROOT
        products = (
            sorted(p.name for p in products_dir.iterdir() if p.is_dir() and p.name.isdigit())
            if products_dir.is_dir()
            else []
        )
        for product in products:
            catalog = Catalog(repo, product)
            for os_name in catalog.os_names():
                # Pack indexes too: prune reads them to know which pack objects are kept.
                for edge in catalog.graph(os_name).edges:
                    if edge.pack is not None:
                        self._ensure(rel_from_link(edge.pack.link))
                for item in catalog.listing(os_name).items:
                    self._ensure(rel_from_link(item.meta_urls[0]))
                    manifest = catalog.build_manifest(item)
                    self._parallel(
                        [layout.meta_rel(d.manifest) for d in manifest.depots],
                        self._ensure,
                        "manifests",
                    )
            patches = self.mirror / layout.product_rel(product) / "patches"
            for pair in sorted(patches.glob("*/*.json")) if patches.is_dir() else []:
                index = catalog.pair(pair.parent.name, pair.stem)
                if index is None:
                    continue
                self._ensure(rel_from_link(index.link))
                root = catalog.patch_root(index)
                self._parallel(
                    [layout.patch_meta_rel(d.manifest) for d in root.depots],
                    self._ensure,
                    "manifests",
                )

    # --- push --------------------------------------------------------------------------

    def push(
        self, *, metadata_only: bool = False, cancel: CancelToken = NEVER_CANCELLED
    ) -> SyncReport:
        """Upload what the mirror has and the store lacks, in the safe order; then delete
        what the store no longer needs. ``metadata_only``: only ``metadata/``
        (``slipstream timestamp``). Cancelled, it stops between two uploads: a rerun
        carries on."""
        self._cancel = cancel
        if not metadata_only:
            objects: dict[str, int] = {}
            for top in _OBJECT_ROOTS:
                objects.update(_walk(self.mirror, top))
            objects.update(
                {
                    rel: size
                    for rel, size in _walk(self.mirror, layout.PRODUCTS_ROOT).items()
                    if _is_art(rel)
                }
            )
            self._upload_immutable(objects)
            manifests: dict[str, int] = {}
            for top in _MANIFEST_ROOTS:
                manifests.update(_walk(self.mirror, top))
            self._upload_immutable(manifests)
        tops = (layout.METADATA_ROOT,) if metadata_only else _DOCUMENT_ROOTS
        documents = {rel for top in tops for rel in _walk(self.mirror, top) if not _is_art(rel)}
        changed = sorted(
            (rel for rel in documents if self._pulled.get(rel) != _md5(self.mirror / rel)),
            key=_document_order,
        )
        for n, rel in enumerate(changed):
            cancel.raise_if_cancelled()
            self.progress(Progress(Phase.UPLOADING, n, len(changed), rel, "documents"))
            self.store.upload(rel, self.mirror / rel, immutable=False)
            self._pulled[rel] = _md5(self.mirror / rel)
            self._leave(self._pulled)
            self.report.documents_uploaded.append(rel)
            crashpoint("upload-document")
        gone = sorted(
            rel
            for rel in self._pulled
            if rel.startswith(tuple(t + "/" for t in tops)) and not (self.mirror / rel).is_file()
        )
        if gone:  # after the documents that stopped naming them
            self.store.delete(gone)
            for rel in gone:
                self._pulled.pop(rel, None)
            self._leave(self._pulled)
        if self._deletions:
            self.ledger.rewrite(self.ledger.keys - self._deletions)
            self.store.delete(sorted(self._deletions))
        self.report.keys_deleted = len(gone) + len(self._deletions)
        self._deletions.clear()
        self.report.seconds = round(time.monotonic() - self._started, 3)
        return self.report

    def _upload_immutable(self, files: dict[str, int]) -> None:
        todo = sorted(rel for rel in files if rel not in self.ledger)
        total = sum(files[rel] for rel in todo)
        done = 0
        lock = threading.Lock()

        def one(rel: str) -> None:
            nonlocal done
            self._cancel.raise_if_cancelled()
            if self.store.exists(rel):
                uploaded = False
            else:
                self.store.upload(rel, self.mirror / rel, immutable=True)
                uploaded = True
            self.ledger.add(rel)
            with lock:
                done += files[rel]
                if uploaded:
                    self.report.objects_uploaded += 1
                    self.report.bytes_uploaded += files[rel]
                else:
                    self.report.objects_present += 1
                    self.report.bytes_present += files[rel]
                self.progress(Progress(Phase.UPLOADING, done, total, rel))
            if uploaded:
                crashpoint("upload")

        self.report.objects_known += len(files) - len(todo)
        self._run_all(todo, one)

    def _parallel(self, rels: list[str], work: Callable[[str], Any], unit: str) -> None:
        """Fetch ``rels`` from the store, ``jobs`` at a time."""
        done = 0

        def one(rel: str) -> None:
            nonlocal done
            work(rel)
            with self._count_lock:
                done += 1
                self.progress(Progress(Phase.DOWNLOADING, done, len(rels), rel, unit))

        self._run_all(rels, one)

    def _run_all(self, items: Iterable[str], work: Callable[[str], Any]) -> None:
        with ThreadPoolExecutor(self.jobs) as pool:
            futures = [pool.submit(work, item) for item in items]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:  # the first failure stops the rest
                    future.cancel()
                raise

    # --- what the store holds ----------------------------------------------------------

    def _last_left(self) -> dict[str, str]:
        try:
            doc = json.loads((self.state / STORE_STATE_FILE).read_text())
            return {str(k): str(v) for k, v in doc.items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def _leave(self, documents: dict[str, str]) -> None:
        try:
            data = json.dumps(documents, sort_keys=True).encode()
            atomic_write(self.state / STORE_STATE_FILE, data, fsync=False)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write the cache's state") from None

    # --- prune -------------------------------------------------------------------------

    def sweep(self) -> StoreSweep:
        """The objects ``prune`` sweeps: the store's and the mirror's."""
        return StoreSweep(self)

    def forget(self, rel: str) -> None:
        """Drop ``rel`` from the mirror now and from the store at the end of ``push``,
        after every document that stopped naming it."""
        path = self.mirror / rel
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "delete from the cache") from None
        self._deletions.add(rel)


class StoreSweep:
    """:class:`core.publish.prune.ObjectSweep` over a store and its mirror. This is the
    one place the bucket is listed (under ``content-system/``): garbage cannot be found
    any other way."""

    def __init__(self, remote: RemoteRepo) -> None:
        self.remote = remote

    def objects(self) -> dict[str, int]:
        found = _walk(self.remote.mirror, layout.CONTENT_ROOT, hidden=True)
        stored = self.remote.store.listing(layout.CONTENT_ROOT + "/")
        found.update({rel: entry.size for rel, entry in stored.items()})
        return found

    def delete(self, rel: str) -> None:
        self.remote.forget(rel)
