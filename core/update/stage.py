"""Building the new files in staging: download objects, assemble, patch, verify.

Nothing here touches the game's own files except to read them (patch sources and
reusable chunks); every output goes to ``.slipstream/staging`` on the game's filesystem,
and only a verified staged file is ever committed.

The chunks of a file assembled here stream from the socket into memory and from there,
inflated and hashed, into the staged file (:attr:`Stager.in_memory`): they never touch
the disk as objects. At most :data:`MEMORY_BYTES` of them wait in memory. Every other
download (patch chunks, pack spans, the small files container, a chunk several files
share) lands in ``.slipstream/downloads`` under its compressed md5 (pack spans under their
object's md5 and byte range) and stays there until the commit. A cancelled, failed or
crashed update leaves its staged files in ``downloads/staged`` (core/gamedir/folder.py
:meth:`~core.gamedir.folder.GameDir.keep_staging`), and the next run keeps the leading
chunks of each that still match their md5 (:meth:`Stager.resume`): either way it loses
at most the objects in flight and in memory.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError as FutureCancelled
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from core.crashpoint import crashpoint
from core.delta.hdiff import HDIFF_MAX_BYTES
from core.delta.xdelta import PatchPool
from core.errors import (
    AccessDeniedError,
    CancelledError,
    FormatError,
    LocalIOError,
    PatchDecodeError,
    RepositoryError,
    SlipstreamError,
)
from core.format.depot import Chunk, DepotFile, unpack_chunk
from core.format.patch import DepotDiff
from core.format.zjson import inflate
from core.fs import fsync_file
from core.gamedir.folder import META_DIR, RESUME_DIR, GameDir, check_components
from core.net.fetcher import POOL_SIZE
from core.net.source import RepoSource
from core.net.transport import Transport
from core.progress import NEVER_CANCELLED, CancelToken, Phase, Progress, ProgressSink, null_sink
from core.update.packs import PackSpan
from core.update.plan import ChunkReuse, FileAction
from core.update.route import PackStep

READ = 1 << 20
MEMORY_BYTES = 64 << 20
"""Compressed objects fetched into memory and not yet written into their files, at most
(one object larger than this still goes, alone). Downloads run this far ahead of the
threads that assemble: 90 objects of a many-file install, 16 chunks of big files."""
HELD_OBJECT_BYTES = 32 << 20
"""An object larger than this goes to downloads/ even for a file assembled from memory:
GOG's chunks and ours compress to under 20 MiB, and a manifest that names bigger ones
(the format allows 257 MiB) must not make one object take that much memory."""
_WAIT_SECONDS = 0.1
REPORT_SECONDS = 0.02
"""Download progress is reported at most this often (a bar redraws at 20-60 Hz), not once
per block: about 3,000 reports in a 2,000-file install before."""
FLUSH_THREADS = 16
_FLUSHER = ThreadPoolExecutor(FLUSH_THREADS, "flush-staged")
"""Flushes staged files while the update goes on (:meth:`Stager.flush_later`), and
patched files beside their hashing (:meth:`Stager.patched_matches`). Many at a time:
the filesystem's journal commits the flushes that wait together in one go. A 2,000-file,
1.2 GB build written on two threads took 2.45 s and 5.43 s to write and fsync on the
writing threads, 1.30 s and 2.90 s with the fsyncs here (two rounds on this machine's
shared disk, which varies between them more than the change does)."""


@dataclass(frozen=True)
class ObjectRef:
    """A compressed object to download: a file chunk or a patch chunk."""

    chunk: Chunk
    patches: bool


Download = ObjectRef | PackSpan
"""What :class:`Downloads` fetches: an object of the stores, or a span of a pack object."""


SMALL_OBJECT_BYTES = 1 << 20
"""Below this median size, a download is bound by round trips more than by bandwidth."""
SMALL_OBJECT_FACTOR = 4


def in_flight(jobs: int, sizes: Sequence[int]) -> int:
    """Requests kept in flight: the download threads the player set, or, when the objects
    are small (a median under 1 MiB), four times as many, up to the connection pool's
    size. Each request waits a round trip whatever its size: with 30 ms to the server,
    four threads fetch at most 133 small objects a second, whatever the bandwidth. The
    bandwidth limit is shared by all of them, so more requests never mean more speed
    than the player allowed. One thread stays one request at a time: a player who chose
    it wants the connection shared as little as possible."""
    jobs = max(1, jobs)
    if jobs == 1 or not sizes or sorted(sizes)[len(sizes) // 2] >= SMALL_OBJECT_BYTES:
        return jobs
    return max(jobs, min(POOL_SIZE, jobs * SMALL_OBJECT_FACTOR))


def download_size(ref: Download) -> int:
    """The bytes fetching ``ref`` downloads."""
    return ref.length if isinstance(ref, PackSpan) else ref.chunk.compressed_size


def object_path(game: GameDir, ref: Download) -> Path:
    """Where ``ref`` is downloaded to in ``game``'s downloads/ (while it arrives:
    :func:`partial_path` of it); for a span, the whole object when an earlier run left it
    there. The window reads these names to count what a cancelled run fetched (gui/work.py)."""
    if isinstance(ref, PackSpan):
        whole = game.downloads / f"k-{ref.object.id}"
        return whole if ref.whole or whole.is_file() else game.downloads / ref.key
    kind = "p" if ref.patches else "c"
    return game.downloads / f"{kind}-{ref.chunk.compressed_md5}"


def _download_key(ref: Download) -> str:
    return ref.key if isinstance(ref, PackSpan) else ref.chunk.compressed_md5


def _has_fallback(ref: Download) -> bool:
    """Patch chunks and pack spans serve files that can fall back to their chunks."""
    return isinstance(ref, PackSpan) or ref.patches


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    try:
        with open(path, "rb", buffering=0) as src:
            while piece := src.read(READ):
                digest.update(piece)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read") from None
    return digest.hexdigest()


def target_digest(target: DepotFile) -> tuple[str, str]:
    """(algorithm, hex digest) that proves a file is ``target``: sha256 where the manifest
    has it (our publisher always writes it), else GOG's md5."""
    if target.sha256:
        return "sha256", target.sha256
    return "md5", target.file_md5


def matches(path: Path, target: DepotFile) -> bool:
    """Whether the file at ``path`` is exactly ``target`` (size, then sha256 or md5)."""
    try:
        if path.stat().st_size != target.size:
            return False
    except OSError:
        return False
    algorithm, expected = target_digest(target)
    return file_digest(path, algorithm) == expected


class Stager:
    """Stages the files of one plan; ``jobs`` threads download and assemble."""

    def __init__(
        self,
        game: GameDir,
        source: RepoSource,
        fetcher: Transport,
        product: str,
        *,
        jobs: int = 4,
        progress: ProgressSink = null_sink,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        self.game = game
        self.source = source
        self.fetcher = fetcher
        self.product = product
        self.jobs = jobs
        self.progress = progress
        self.cancel = cancel
        self.bytes_downloaded = 0
        self.digests: dict[str, tuple[int, str]] = {}
        """Path → (bytes written, digest by :func:`target_digest`'s algorithm) of every file
        :meth:`assemble` wrote: the hash is taken on the way, never by reading it again."""
        self._fresh: set[str] = set()
        """Compressed md5s of the objects fetched (and md5-checked) by this run."""
        self.check_later: set[str] = set()
        """Compressed md5s of chunks that may arrive without their md5 check: the caller
        (core/update/apply.py) names the chunks of files that :meth:`assemble` writes,
        whose whole-file hash covers every byte (md5 runs at about half sha256's speed
        on this project's machine, and the compressed md5 of every object was a sixth
        of a many-file install's work). Damage then shows as a stream that will not
        inflate or a file that does not hash; only then are the file's objects checked,
        the damaged ones fetched again, checked, and the file written once more."""
        self._unchecked: set[str] = set()
        """Compressed md5s of the objects this run fetched without their md5 check."""
        self.in_memory: set[str] = set()
        """Compressed md5s of chunks the caller's downloads (``start_downloads(...,
        in_memory=True)``) fetch into memory, not into downloads/: each is read once, by
        the one file :meth:`assemble` writes from it, and dropped. Writing each object to
        a file and reading it back cost about a core-second of a 710 MB install (creating,
        filling and deleting 1,000 files) and a rename per object."""
        self._held: dict[str, tuple[ObjectRef, bytes]] = {}
        """Objects fetched into memory and not yet read, by compressed md5."""
        self._budget = _Budget(MEMORY_BYTES)
        self._resumed: dict[str, _Resumed] = {}
        self._recheck_lock = threading.Lock()
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        """Guards :attr:`bytes_downloaded` and each :class:`Downloads`' count; held for the
        sums only."""
        self._sfc: bytes | None = None
        self._sfc_lock = threading.Lock()
        self._flushes: list[Future[None]] = []

    # --- downloads ---------------------------------------------------------------------

    def object_path(self, ref: Download) -> Path:
        """Where ``ref`` is downloaded to (:func:`object_path`)."""
        return object_path(self.game, ref)

    def download_all(
        self, refs: Iterable[Download], *, tolerate: bool = False
    ) -> dict[str, SlipstreamError]:
        """Fetch every object not already downloaded, ``jobs`` at a time.

        With ``tolerate`` (patch chunks, which have a fallback), an object that cannot be
        fetched intact does not stop the others: the failures come back as
        {compressed md5: error}. Otherwise the first failure is raised."""
        with self.start_downloads(refs, tolerate=lambda ref: tolerate) as downloads:
            return downloads.finish()

    def start_downloads(
        self,
        refs: Iterable[Download],
        *,
        tolerate: Callable[[Download], bool] = _has_fallback,
        in_memory: bool = False,
    ) -> Downloads:
        """Start fetching ``refs`` in the background, in their order; see :class:`Downloads`.
        With ``in_memory``, the chunks named in :attr:`in_memory` go to memory, not to
        downloads/: only for downloads whose every such chunk some assembling thread
        will read in this order (:class:`_Budget`)."""
        return Downloads(self, list(refs), tolerate, in_memory)

    def _download_object(
        self,
        ref: Download,
        partial: Path,
        advance: Callable[[int], None],
        *,
        force_check: bool = False,
    ) -> bool:
        """Fetch ``ref`` into ``partial``; whether its md5 was checked on arrival (not
        for a chunk in :attr:`check_later`, unless ``force_check``)."""
        if isinstance(ref, PackSpan):
            self._download_span(ref, partial, advance)
            return True
        chunk = ref.chunk
        md5 = chunk.compressed_md5
        check = force_check or ref.patches or md5 not in self.check_later

        def download(url: str) -> None:
            self.fetcher.download(
                url,
                partial,
                size=chunk.compressed_size,
                md5=md5 if check else None,
                what=f"chunk {md5}",
                on_bytes=advance,
                cancel=self.cancel,
            )

        self._from_endpoints(md5, ref.patches, download)
        return check

    def _from_endpoints(self, md5: str, patches: bool, fetch: Callable[[str], T]) -> T:
        """``fetch`` an object from the first of the repository's URLs for it that serves
        it. Signed links expire (GOG's after about a day): on a denial, new ones are asked
        for, once."""
        urls = self.source.chunk_urls(self.product, md5, patches)
        try:
            return _from_any(urls, fetch)
        except AccessDeniedError:
            self.source.renew_links(self.product, md5, patches, urls)
            return _from_any(self.source.chunk_urls(self.product, md5, patches), fetch)

    def _download_span(self, span: PackSpan, partial: Path, advance: Callable[[int], None]) -> None:
        """One request for a span of a pack object: the whole object, checked against its
        md5 (its name), or a byte range whose entries are each checked when cut out."""
        obj = span.object
        url = self.source.pack_url(obj.link)
        what = f"pack object {obj.id}"
        if span.whole:
            self.fetcher.download(
                url, partial, size=obj.size, md5=obj.id, what=what, on_bytes=advance,
                cancel=self.cancel,
            )  # fmt: skip
        else:
            self.fetcher.download_range(
                url, partial, start=span.start, length=span.length, what=what,
                on_bytes=advance, cancel=self.cancel,
            )  # fmt: skip

    def _fetch_held(self, ref: ObjectRef, partial: Path, advance: Callable[[int], None]) -> None:
        """Fetch ``ref`` into memory (:attr:`in_memory`), for :meth:`inflate` to take; the
        bytes that arrived before a failure or a cancel go to ``partial``, resumed from
        there by the next run."""
        chunk = ref.chunk
        md5 = chunk.compressed_md5
        check = md5 not in self.check_later

        def fetch(url: str) -> bytes:
            return self.fetcher.fetch_object(
                url,
                size=chunk.compressed_size,
                md5=md5 if check else None,
                what=f"chunk {md5}",
                on_bytes=advance,
                cancel=self.cancel,
                spill=partial,
            )

        body = self._from_endpoints(md5, False, fetch)
        with self._lock:
            self._held[md5] = (ref, body)
            (self._fresh if check else self._unchecked).add(md5)

    def inflate(self, ref: ObjectRef, *, hashed_later: bool = False) -> bytes:
        """A downloaded object's data, checked against its manifest entry.

        ``hashed_later``: the caller hashes the whole file as it writes it. An object this
        run fetched then skips its chunk md5: the file's own hash covers these bytes (a
        third hash of them cost about a core-second per 600 MB). An object left by an
        earlier run is always checked; a damaged one (objects are not fsynced: a power cut
        may tear one) is deleted and fetched again, once. One fetched unchecked
        (:attr:`check_later`) that does not inflate is checked now, and fetched again if
        damaged (:meth:`recheck`)."""
        md5 = ref.chunk.compressed_md5
        try:
            return self._inflate(ref, hashed_later)
        except RepositoryError:
            if md5 in self._fresh:
                raise
            if md5 not in self._unchecked:
                self.download_all([ref])
                return self._inflate(ref, hashed_later)
        self.recheck([ref.chunk])  # now checked: a second failure is the repository's
        return self._inflate(ref, hashed_later)

    def recheck(self, chunks: Iterable[Chunk]) -> None:
        """Check the objects of ``chunks`` that this run fetched unchecked against their
        md5 (read back from downloads/), and fetch each damaged one again, this time
        checked on arrival. Afterwards every one counts as checked. The new copy replaces
        the old by a rename, so a thread reading the old one keeps its bytes (and finds
        its own file's hash wrong, and comes here too). Raises the fetch's error, with the
        damaged object deleted, if a good copy cannot be had."""
        with self._recheck_lock:
            for chunk in chunks:
                md5 = chunk.compressed_md5
                if md5 not in self._unchecked:
                    continue  # checked meanwhile, by another file that has it
                ref = ObjectRef(chunk, False)
                path = self.object_path(ref)
                try:
                    intact = file_digest(path) == md5
                except SlipstreamError:
                    intact = False
                if not intact:
                    again = path.with_name(path.name + ".again")
                    try:
                        self._download_object(ref, again, self._count_bytes, force_check=True)
                        os.replace(again, path)
                    except BaseException:
                        again.unlink(missing_ok=True)
                        path.unlink(missing_ok=True)
                        raise
                with self._lock:
                    self._unchecked.discard(md5)
                    self._fresh.add(md5)

    def spill_held(self) -> None:
        """Write the objects still held in memory to downloads/ (not flushed: resume data),
        for the run after a failed or cancelled one; none are held after a good one."""
        with self._lock:
            held, self._held = self._held, {}
        for ref, body in held.values():
            path = self.object_path(ref)
            partial = partial_path(path)
            try:
                partial.write_bytes(body)
                os.replace(partial, path)
            except OSError:
                partial.unlink(missing_ok=True)

    def _count_bytes(self, n: int) -> None:
        with self._count_lock:
            self.bytes_downloaded += n

    def _inflate(self, ref: ObjectRef, hashed_later: bool) -> bytes:
        path = self.object_path(ref)
        chunk = ref.chunk
        what = f"chunk {chunk.compressed_md5}"
        with self._lock:
            held = self._held.pop(chunk.compressed_md5, None)
        if held is not None:
            self._budget.give(chunk.compressed_size)
            body = held[1]
        else:
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise LocalIOError.wrap(exc, "read the downloaded chunk") from None
        unchecked = chunk.compressed_md5 in self._unchecked
        if hashed_later and (unchecked or chunk.compressed_md5 in self._fresh):
            try:
                data = inflate(body, chunk.size, what)
            except FormatError as exc:
                if not unchecked:  # (an unchecked one is checked and replaced instead)
                    path.unlink(missing_ok=True)
                raise RepositoryError(exc.detail) from None
            if len(data) != chunk.size:
                if not unchecked:
                    path.unlink(missing_ok=True)
                raise RepositoryError(f"The {what} inflates to other data than its manifest says.")
            return data
        try:
            # The chunk's own md5 after inflating catches anything that happened to the
            # object since it was fetched, or that the fetch did not check.
            return unpack_chunk(body, chunk, what, check_compressed=False)
        except RepositoryError:
            if not unchecked:  # (an unchecked one is checked and replaced instead)
                path.unlink(missing_ok=True)  # the next run fetches it again
            raise

    # --- resuming -----------------------------------------------------------------------

    def resume(self, actions: Iterable[FileAction]) -> dict[str, int]:
        """Take up what an interrupted run left in ``downloads/staged`` of the files
        ``actions`` assemble: each such file is moved back into staging and keeps its
        leading chunks that match their md5 (read here, and hashed into the file's own
        hash on the way); the rest of it is cut off, and :meth:`assemble` writes on from
        there. {path: chunks kept}, for the files that keep any."""
        kept: dict[str, int] = {}
        base = self.game.resume_dir
        try:
            check_components(self.game.root, [META_DIR, "downloads", RESUME_DIR])
            if not base.is_dir():
                return kept
        except (OSError, SlipstreamError):
            return kept
        found = [(a, size) for a in actions if (size := _kept_size(self.game, a))]
        total = sum(size for _, size in found)
        done = 0
        for action, size in found:
            self.cancel.raise_if_cancelled()
            self.progress(Progress(Phase.CHECKING_FILES, done, total, action.path))
            done += size
            resumed = self._resume_one(action, base)
            if resumed is not None:
                self._resumed[action.path] = resumed
                kept[action.path] = resumed.chunks
        if found:
            self.progress(Progress(Phase.CHECKING_FILES, total, total))
        return kept

    def _resume_one(self, action: FileAction, base: Path) -> _Resumed | None:
        target = action.target
        assert target is not None
        out = self.game.staged_path(action.path)
        try:
            os.replace(base / action.path, out)
            digest = hashlib.new(target_digest(target)[0])
            chunks = size = 0
            with open(out, "r+b") as staged:
                for chunk in target.chunks:
                    data = staged.read(chunk.size)
                    if len(data) != chunk.size or hashlib.md5(data).hexdigest() != chunk.md5:
                        break
                    digest.update(data)
                    chunks += 1
                    size += chunk.size
                staged.truncate(size)
        except OSError:
            return None  # written afresh (assemble opens it anew)
        return _Resumed(chunks, size, digest) if chunks else None

    # --- assembling --------------------------------------------------------------------

    def assemble(
        self,
        action: FileAction,
        sfc: bytes | None = None,
        downloads: Downloads | None = None,
    ) -> Future[None]:
        """Write ``action.target`` into staging from fetched and reused chunks, hashing it
        on the way (:attr:`digests`); its flush to the disk, under way
        (:meth:`flush_later`). With ``downloads``, each chunk is waited for as the file
        reaches it, so a file is built while the rest of the update downloads. A file
        that does not hash right, written from objects fetched unchecked, has them checked
        (:meth:`recheck`) and is written once more."""
        target = action.target
        assert target is not None
        out, written, digest, unchecked = self._write_staged(action, sfc, downloads)
        if unchecked and (written, digest) != (target.size, target_digest(target)[1]):
            self.recheck(unchecked)
            out, written, digest, _ = self._write_staged(action, sfc, downloads)
        # Flushed beside the rest of the work, so that the commit never names a file
        # whose bytes a power cut could still lose, and this thread goes on to the next.
        flushing = self.flush_later(action.path, out)
        with self._lock:
            self.digests[action.path] = (written, digest)
        return flushing

    def _write_staged(
        self, action: FileAction, sfc: bytes | None, downloads: Downloads | None
    ) -> tuple[Path, int, str, list[Chunk]]:
        """(the staged file, bytes written, digest, the chunks read from objects fetched
        unchecked)."""
        target = action.target
        assert target is not None
        reuse = {r.index: r for r in action.reuse}
        algorithm, _ = target_digest(target)
        digest = hashlib.new(algorithm)
        written = first = 0
        resumed = self._resumed.get(action.path)
        if resumed is not None:  # its leading chunks are in place (resume)
            first, written, digest = resumed.chunks, resumed.size, resumed.digest.copy()
        unchecked: list[Chunk] = []
        out, dst = self.game.open_staged(
            action.path, executable=target.executable, keep=resumed is not None
        )
        try:
            with dst:
                if resumed:
                    dst.seek(written)
                    dst.truncate(written)
                if action.from_sfc:
                    ref = target.sfc_ref
                    if sfc is None or ref is None:
                        raise RepositoryError(f"No small files container for {action.path}.")
                    piece = sfc[ref.offset : ref.offset + ref.size]
                    digest.update(piece)
                    written += dst.write(piece)
                else:
                    for index, chunk in enumerate(target.chunks):
                        if index < first:
                            continue
                        self.cancel.raise_if_cancelled()
                        if downloads is not None and index not in reuse:
                            downloads.wait(ObjectRef(chunk, False))
                        # Asked before the read: a recheck by another file's thread
                        # between the two would leave this file's bytes unaccounted for.
                        if chunk.compressed_md5 in self._unchecked:
                            unchecked.append(chunk)
                        data = self._chunk_data(index, chunk, reuse)
                        digest.update(data)
                        written += dst.write(data)
                _set_mode(dst.fileno(), out, target.executable)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write the staged file") from None
        return out, written, digest.hexdigest(), unchecked

    def flush_later(self, rel: str, path: Path) -> Future[None]:
        """Start flushing the staged file ``rel`` at ``path`` (written and closed) to the
        disk; it is marked flushed (:meth:`GameDir.staged_flushed`) once it is. The flush
        under way (its error a LocalIOError); :meth:`wait_flushed` waits for every one."""
        game = self.game

        def flush() -> None:
            try:
                fsync_file(path)
            except OSError as exc:
                raise LocalIOError.wrap(exc, "write the staged file") from None
            # Marked before the future is done (a done callback runs after its waiters
            # wake: the commit could find the file not yet marked and flush it again).
            game.staged_flushed(rel)

        future = _FLUSHER.submit(flush)
        with self._lock:
            self._flushes.append(future)
        return future

    def drop_flushes(self) -> list[Future[None]]:
        """Wait for the flushes started, whatever became of them (an update that failed
        or was cancelled: its staging is cleared next); they are no longer waited for."""
        with self._lock:
            flushes, self._flushes = self._flushes, []
        wait(flushes)
        return flushes

    def wait_flushed(self) -> None:
        """Wait for every flush :meth:`flush_later` started; LocalIOError if one failed
        (a file the commit would otherwise name without its bytes safe on the disk)."""
        for future in self.drop_flushes():
            future.result()

    def patched_matches(self, action: FileAction) -> bool:
        """Flush the staged file a patch wrote (:func:`finish_staged`) and say whether it
        is its target, the two side by side: the hash reads the file from the page cache
        while the flush writes it to the disk, so the largest file's end waits for the
        longer of them, not for both (a 210 MB file: about 0.3 s of sha256 and as long
        again of fsync on this machine). Raises LocalIOError when it cannot be flushed."""
        assert action.target is not None
        out = self.game.staged_path(action.path)
        flushing = _FLUSHER.submit(finish_staged, out, action.target.executable)
        try:
            good = self.staged_matches(action)
        finally:
            wait([flushing])  # never leave a flush running, whatever the hash did
        flushing.result()  # raises the flush's LocalIOError
        self.game.staged_flushed(action.path)
        return good

    def staged_matches(self, action: FileAction) -> bool:
        """Whether the staged file of ``action`` is its target: by the hash taken while it
        was assembled, else (a patched file) by hashing it."""
        assert action.target is not None
        known = self.digests.get(action.path)
        if known is None:
            return matches(self.game.staged_path(action.path), action.target)
        _, expected = target_digest(action.target)
        return known == (action.target.size, expected)

    def _chunk_data(self, index: int, chunk: Chunk, reuse: dict[int, ChunkReuse]) -> bytes:
        hit = reuse.get(index)
        if hit is not None:
            data = _read_at(self.game.game_path(hit.source_path), hit.offset, chunk.size)
            if hashlib.md5(data).hexdigest() == chunk.md5:
                return data
            # The local copy changed since planning: fetch this chunk after all.
            self.download_all([ObjectRef(chunk, False)])
        return self.inflate(ObjectRef(chunk, False), hashed_later=True)

    def sfc_data(self, chunks: tuple[Chunk, ...], downloads: Downloads | None = None) -> bytes:
        """The small files container, built once however many threads ask for it."""
        with self._sfc_lock:
            if self._sfc is None:
                refs = [ObjectRef(c, False) for c in chunks]
                if downloads is not None:
                    for ref in refs:
                        downloads.wait(ref)
                self._sfc = b"".join(self.inflate(r) for r in refs)
            return self._sfc

    # --- patching ----------------------------------------------------------------------

    def delta_file(self, diff: DepotDiff) -> Path:
        """Reassemble one delta from its patch chunks and check its md5."""
        out = self.game.downloads / f"delta-{diff.md5_source}-{diff.md5_target}"
        digest = hashlib.md5()
        try:
            with open(out, "wb") as dst:
                for chunk in diff.chunks:
                    data = self.inflate(ObjectRef(chunk, True))
                    digest.update(data)
                    dst.write(data)
        except OSError as exc:
            # Like a delta xdelta3 cannot apply: this file falls back to its download.
            raise PatchDecodeError(
                f"Could not write the delta for {diff.path_target}: {exc.strerror or exc}."
            ) from None
        if digest.hexdigest() != diff.md5:
            raise PatchDecodeError(f"The delta for {diff.path_target} does not match its md5.")
        return out

    def apply_chain(self, action: FileAction, pool: PatchPool) -> Path:
        """Patch the installed file through ``action.diffs`` into staging; the result is
        checked by the caller. Raises a SlipstreamError on any failure.

        The source is not hashed first (that cost as much as the decode): planning has
        already set aside the files the player changed, and a wrong source gives a wrong
        output, which the caller's check of the result catches; :meth:`source_is_expected`
        then names the cause."""
        assert action.source_path is not None and action.target is not None
        source = self.game.game_path(action.source_path)
        out = self.game.staged_path(action.path)
        current = source
        for step, diff in enumerate(action.diffs):
            self.cancel.raise_if_cancelled()
            delta = self.delta_file(diff)
            last = step == len(action.diffs) - 1
            result = out if last else out.with_name(f".{out.name}.hop{step}")
            pool.decode(current, delta, result).result()
            crashpoint("update-patch-applied")
            if current != source:
                current.unlink(missing_ok=True)
            current = result
        return out

    def pack_entry(self, step: PackStep, span: PackSpan, for_path: str) -> Path:
        """Cut one entry out of its downloaded span, for the staged file ``for_path``, and
        check its md5; raises :class:`PatchDecodeError` (the file falls back) when it
        cannot be had intact. Two files may share an entry: each gets its own copy."""
        entry = step.entry
        what = f"the pack entry for {entry.path_target}"
        if not span.holds(entry):
            raise PatchDecodeError(f"{what} is not in the bytes fetched of its pack object.")
        held = self.object_path(span)
        start = entry.offset - (0 if held.name == f"k-{step.object.id}" else span.start)
        owner = hashlib.md5(for_path.encode()).hexdigest()[:12]
        out = self.game.downloads / f"e-{step.object.id}-{entry.offset}-{entry.length}-{owner}"
        digest = hashlib.md5()
        try:
            with open(held, "rb") as src, open(out, "wb") as dst:
                src.seek(start)
                left = entry.length
                while left > 0 and (piece := src.read(min(READ, left))):
                    digest.update(piece)
                    dst.write(piece)
                    left -= len(piece)
        except OSError as exc:
            raise PatchDecodeError(f"Could not cut out {what}: {exc.strerror or exc}.") from None
        if left or digest.hexdigest() != entry.md5:
            out.unlink(missing_ok=True)
            raise PatchDecodeError(f"{what} does not match its md5 (a damaged or lying pack).")
        return out

    def pack_delta(self, action: FileAction, spans: dict[str, PackSpan]) -> Path:
        """The one entry of a one-step packed ``action``, cut out of its span and checked
        (as :meth:`apply_packs` does before it decodes), for a batch of small files
        decoded in one pool job (core/update/apply.py). Raises a SlipstreamError when the
        entry cannot be used; the file then falls back. The caller deletes the file."""
        assert action.source_path is not None
        (step,) = action.packs
        entry = step.entry
        source = self.game.game_path(action.source_path)
        _check_sizes(entry.codec, source, entry.size_source, entry.size_target)
        return self.pack_entry(step, spans[step.object.id], action.path)

    def apply_packs(self, action: FileAction, pool: PatchPool, spans: dict[str, PackSpan]) -> Path:
        """Patch the installed file through ``action.packs`` into staging, each entry
        decoded in ``pool`` by the codec it names; the result is checked by the caller.
        Raises a SlipstreamError on any failure (the file then falls back)."""
        assert action.source_path is not None and action.target is not None
        source = self.game.game_path(action.source_path)
        out = self.game.staged_path(action.path)
        current = source
        try:
            for index, step in enumerate(action.packs):
                self.cancel.raise_if_cancelled()
                entry = step.entry
                _check_sizes(entry.codec, current, entry.size_source, entry.size_target)
                delta = self.pack_entry(step, spans[step.object.id], action.path)
                last = index == len(action.packs) - 1
                result = out if last else out.with_name(f".{out.name}.pack{index}")
                try:
                    future = pool.decode_entry(
                        entry.codec, current, delta, result, size_target=entry.size_target
                    )
                    future.result()
                finally:
                    delta.unlink(missing_ok=True)
                crashpoint("update-patch-applied")
                if current != source:
                    current.unlink(missing_ok=True)
                current = result
        finally:
            if current not in (source, out):  # a chain stopped half-way: drop its step
                current.unlink(missing_ok=True)
        return out

    def source_is_expected(self, action: FileAction) -> bool:
        """Whether the patch source on disk is the file the first patch was made for (asked
        only once a patch has failed, to give the right reason)."""
        assert action.source_path is not None
        first = action.packs[0].entry.md5_source if action.packs else action.diffs[0].md5_source
        source = self.game.game_path(action.source_path)
        try:
            # Not a regular file (a FIFO would block the read): not the file patched.
            return source.is_file() and file_digest(source) == first
        except SlipstreamError:
            return False


class Downloads:
    """Objects fetched in the background, ``stager.jobs`` at a time, in the order given,
    while other threads patch and assemble: each waits (:meth:`wait`) only for the objects
    it needs. Objects go to ``downloads/``, or, for downloads started ``in_memory``, the
    chunks named in :attr:`Stager.in_memory` stay in memory until their file is written
    from them (at most :data:`MEMORY_BYTES` of them, :class:`_Budget`), and one cut short
    by a failure or a cancel is kept as a partial file. A cancel or a crash loses only the
    objects in flight or in memory.

    An object ``tolerate`` accepts losing (a patch chunk: its file can fall back) reports
    its failure through :meth:`wait` and :meth:`finish`; any other failure stops the
    downloads not yet started and is raised to whoever waits for that object, and by
    :meth:`finish`. Leaving the ``with`` block drops the downloads not yet started and
    waits for the running ones."""

    def __init__(
        self,
        stager: Stager,
        refs: list[Download],
        tolerate: Callable[[Download], bool],
        in_memory: bool = False,
    ) -> None:
        self._stager = stager
        self._tolerate = tolerate
        todo: dict[Path, Download] = {}
        for ref in refs:
            todo.setdefault(stager.object_path(ref), ref)
        self._refs = {p: r for p, r in todo.items() if not p.is_file()}
        # Tickets in the order of the downloads, before any starts (see _Budget).
        # An object an earlier run left partly fetched is resumed on disk instead.
        self._tickets = {
            path: stager._budget.ticket()
            for path, ref in self._refs.items()
            if in_memory
            and isinstance(ref, ObjectRef)
            and not ref.patches
            and ref.chunk.compressed_md5 in stager.in_memory
            and ref.chunk.compressed_size <= HELD_OBJECT_BYTES
            and not partial_path(path).exists()
        }
        self.total = sum(download_size(r) for r in self._refs.values())
        self._done = 0
        self._reported = 0
        self._report_at = 0.0
        self._reporting = threading.Lock()
        self._stopped = threading.Event()
        stager.game.downloads.mkdir(parents=True, exist_ok=True)
        stager.progress(Progress(Phase.DOWNLOADING, 0, self.total))
        sizes = [download_size(r) for r in self._refs.values()]
        self._executor = ThreadPoolExecutor(in_flight(stager.jobs, sizes), "download")
        self._futures: dict[Path, Future[SlipstreamError | None]] = {
            path: self._executor.submit(self._fetch, path, ref) for path, ref in self._refs.items()
        }

    def __enter__(self) -> Downloads:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stopped.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        # Those that never started: the next downloads' turn must not wait for them.
        self._stager._budget.abandon(self._tickets.values())

    def _advance(self, n: int) -> None:
        """Count ``n`` bytes in, and report the count at most every :data:`REPORT_SECONDS`
        (and always at the end). The count's lock is held for the sum only: reporting
        under it (the sink, a Progress) made every other download and assembling thread
        wait for one that had lost the GIL holding it, a fifth of their time in a
        many-file install. One thread reports at a time, never a count older than the
        last one reported."""
        stager = self._stager
        with stager._count_lock:
            self._done += n
            stager.bytes_downloaded += n
            done = self._done
        now = time.monotonic()
        if done < self.total and now < self._report_at:
            return
        # The last bytes wait their turn; a report in between is skipped, not queued.
        if not self._reporting.acquire(blocking=done >= self.total):
            return
        try:
            done = self._done
            if done > self._reported:
                self._reported = done
                self._report_at = now + REPORT_SECONDS
                stager.progress(Progress(Phase.DOWNLOADING, done, self.total))
        finally:
            self._reporting.release()

    def _fetch(self, path: Path, ref: Download) -> SlipstreamError | None:
        stager = self._stager
        if self._stopped.is_set():
            raise CancelledError()
        stager.cancel.raise_if_cancelled()
        ticket = self._tickets.get(path)
        if ticket is not None:
            assert isinstance(ref, ObjectRef)
            self._fetch_held(path, ref, ticket)
            return None
        partial = partial_path(path)
        try:
            checked = stager._download_object(ref, partial, self._advance)
        except CancelledError:
            raise
        except SlipstreamError as exc:
            if self._tolerate(ref):
                return exc
            self._stopped.set()  # the first failure wins: start no more
            raise
        # No fsync before the rename (about 0.7 ms an object, some 0.7 s of a 1,000-object
        # install): an object in downloads/ is resume data, never part of the game. One
        # this run fetched was md5-checked as it arrived, or is covered by its file's hash
        # (:attr:`Stager.check_later`); one an earlier run left (a power cut may have torn
        # it) is checked again before use and fetched again if damaged
        # (:meth:`Stager.inflate`). The game's files are written from the objects into
        # staging and renamed into place by the journal (core/gamedir/journal.py), so
        # flushing the objects never made the committed folder any safer.
        try:
            os.replace(partial, path)
        except OSError as exc:
            raise LocalIOError.wrap(exc, "keep the downloaded object") from None
        if isinstance(ref, ObjectRef):
            with stager._lock:
                (stager._fresh if checked else stager._unchecked).add(ref.chunk.compressed_md5)
        crashpoint("update-object-downloaded")
        return None

    def _fetch_held(self, path: Path, ref: ObjectRef, ticket: int) -> None:
        """Fetch ``ref`` into memory once the budget has room for it (:class:`_Budget`)."""
        stager = self._stager
        size = ref.chunk.compressed_size
        stager._budget.take(ticket, size, self._stopped, stager.cancel)
        try:
            stager._fetch_held(ref, partial_path(path), self._advance)
        except BaseException as exc:
            stager._budget.give(size)
            if not isinstance(exc, CancelledError):
                self._stopped.set()  # the first failure wins: start no more
            raise
        crashpoint("update-object-downloaded")

    def wait(self, ref: Download) -> SlipstreamError | None:
        """Block until ``ref`` is on disk or in memory (``None``), or return why a tolerated
        object could not be fetched; raise the error of any other."""
        future = self._futures.get(self._stager.object_path(ref))
        return None if future is None else self._result(future)  # None: on disk already

    def finish(self) -> dict[str, SlipstreamError]:
        """Wait for every download; {compressed md5: error} of the tolerated failures. The
        first other failure is raised."""
        failures: dict[str, SlipstreamError] = {}
        for path, future in self._futures.items():
            error = self._result(future)
            if error is not None:
                failures[_download_key(self._refs[path])] = error
        return failures

    def _result(self, future: Future[SlipstreamError | None]) -> SlipstreamError | None:
        while True:
            self._stager.cancel.raise_if_cancelled()
            try:
                return future.result(timeout=_WAIT_SECONDS)
            except TimeoutError:
                continue
            except FutureCancelled:
                raise CancelledError() from None


def _check_sizes(codec: str, current: Path, size_source: int, size_target: int) -> None:
    """Refuse an entry whose source on disk is not the size it says, and an HDiffPatch
    entry for files above :data:`HDIFF_MAX_BYTES` (its decoder holds both in memory)."""
    try:
        size = current.stat().st_size
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read the patch source") from None
    if size != size_source:
        raise PatchDecodeError(
            f"The pack entry is for a source of {size_source} bytes; {current.name} has {size}."
        )
    if codec == "hdiffpatch" and max(size_source, size_target) > HDIFF_MAX_BYTES:
        raise PatchDecodeError(
            f"The HDiffPatch entry for {current.name} is for a file above "
            f"{HDIFF_MAX_BYTES} bytes; only xdelta3 is used for those."
        )


def _set_mode(fd: int, path: Path, executable: bool) -> None:
    mode = 0o755 if executable else 0o644
    if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
        # Made with this mode already, unless the umask took bits away or the file was
        # resumed: asking costs less than a change, which the filesystem journals.
        if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
            os.fchmod(fd, mode)
    else:
        os.chmod(path, mode)


def staged_mode(path: Path, executable: bool) -> None:
    """Give a staged file the patch workers wrote its mode."""
    try:
        os.chmod(path, 0o755 if executable else 0o644)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "write the staged file") from None


def finish_staged(path: Path, executable: bool) -> None:
    """Give a staged file the patch workers wrote its mode, and flush it to the disk,
    before the commit can name it: the workers only write it, and the commit fsyncs the
    folders it renames into, never the files' contents. The commit flushes any staged file
    not marked with :meth:`GameDir.staged_flushed` itself, on its own critical path; a
    stager that calls this (then marks the file) flushes it while other work runs."""
    staged_mode(path, executable)
    try:
        fsync_file(path)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "write the staged file") from None


def _read_at(path: Path, offset: int, size: int) -> bytes:
    try:
        with open(path, "rb") as src:
            src.seek(offset)
            return src.read(size)
    except OSError:
        return b""


T = TypeVar("T")


def kept_chunks(game: GameDir, action: FileAction) -> int:
    """How many leading chunks of ``action``'s file an interrupted run left in
    ``downloads/staged``, judged by the file's size alone (:meth:`Stager.resume` checks
    each against its md5, and may keep fewer): what the next run need not fetch, for an
    estimate made before it starts."""
    return _kept(game, action)[0]


def kept_bytes(game: GameDir, action: FileAction) -> int:
    """The bytes of those chunks (:func:`kept_chunks`): already on the disk, where the next
    run moves them into staging instead of writing them again."""
    return _kept(game, action)[1]


def _kept(game: GameDir, action: FileAction) -> tuple[int, int]:
    size = _kept_size(game, action)
    kept = end = 0
    for chunk in action.target.chunks if size and action.target else ():
        if end + chunk.size > size:
            break
        end += chunk.size
        kept += 1
    return kept, end


def _kept_size(game: GameDir, action: FileAction) -> int:
    """The size of what an interrupted run left of ``action``'s file in ``downloads/staged``
    (0: nothing, or nothing that could be taken up: a file not assembled from chunks, an
    empty file, a link or anything else that is not a regular file)."""
    target = action.target
    if target is None or action.from_sfc or not target.chunks:
        return 0
    try:
        check_components(game.resume_dir, action.path.split("/"))
        info = os.lstat(game.resume_dir / action.path)
    except (OSError, SlipstreamError):
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def partial_path(path: Path) -> Path:
    """Where an object is downloaded to before it is renamed to ``path``."""
    return path.with_name(path.name + ".part")


def _from_any(urls: list[str], fetch: Callable[[str], T]) -> T:
    """``fetch`` from the first of ``urls`` (the repository's endpoints) that serves it;
    every failure otherwise, the last denial first (its links may be renewed)."""
    errors: list[SlipstreamError] = []
    for url in urls:
        try:
            return fetch(url)
        except CancelledError:
            raise
        except SlipstreamError as exc:  # try the next endpoint
            errors.append(exc)
    denied = [e for e in errors if isinstance(e, AccessDeniedError)]
    if denied:
        raise denied[-1]
    raise errors[-1] if errors else RepositoryError("No endpoint serves the chunks.")


class _Budget:
    """The bytes of objects held in memory (:data:`MEMORY_BYTES`). Taken in the order the
    objects were queued, by ticket: an object never goes ahead of an earlier one still
    waiting, since the earlier one's file may be the one every assembling thread waits
    for, and a budget full of later objects would then never be given back. Given back
    as each object is read (:meth:`Stager.inflate`), or when its fetch fails.

    Only the ticket whose turn it is is woken when room is given back: one condition that
    woke all sixteen waiting download threads at each of a many-file install's thousand
    objects made the assembling threads wait for its lock (7% of their time)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held = 0
        self._issued = 0
        self._serving = 0
        self._abandoned: set[int] = set()
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def ticket(self) -> int:
        with self._lock:
            self._issued += 1
            return self._issued - 1

    def take(self, ticket: int, size: int, stopped: threading.Event, cancel: CancelToken) -> None:
        """Wait for ``ticket``'s turn and room for ``size`` bytes (or an empty budget);
        CancelledError once ``stopped`` is set or ``cancel`` is."""
        woken = threading.Event()
        try:
            while True:
                with self._lock:
                    woken.clear()  # before looking: a wake-up after this is not lost
                    if self._serving == ticket and (
                        not self._held or self._held + size <= self._limit
                    ):
                        self._waiting.pop(ticket, None)
                        self._held += size
                        self._next()
                        return
                    self._waiting[ticket] = woken
                if stopped.is_set():
                    raise CancelledError()
                cancel.raise_if_cancelled()
                woken.wait(_WAIT_SECONDS)
        except BaseException:
            with self._lock:
                self._waiting.pop(ticket, None)
                self._abandon(ticket)
            raise

    def abandon(self, tickets: Iterable[int]) -> None:
        """Tickets whose objects will never be taken (downloads stopped before them)."""
        with self._lock:
            for ticket in tickets:
                self._abandon(ticket)

    def give(self, size: int) -> None:
        with self._lock:
            self._held -= size
            self._wake()

    def _abandon(self, ticket: int) -> None:
        if ticket == self._serving:
            self._next()
        elif ticket > self._serving:
            self._abandoned.add(ticket)

    def _next(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._wake()

    def _wake(self) -> None:
        waiting = self._waiting.get(self._serving)
        if waiting is not None:
            waiting.set()


@dataclass(frozen=True)
class _Resumed:
    """The leading chunks of a staged file an interrupted run left, checked: how many,
    their bytes, and the file's hash over them (copied before each use)."""

    chunks: int
    size: int
    digest: Any
