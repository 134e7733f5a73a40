"""Building the new files in staging: download objects, assemble, patch, verify.

Nothing here touches the game's own files except to read them (patch sources and
reusable chunks); every output goes to ``.slipstream/staging`` on the game's filesystem,
and only a verified staged file is ever committed. Downloads land in
``.slipstream/downloads`` under their compressed md5 and stay there until the commit,
so a cancelled or crashed update resumes without fetching them again.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core.crashpoint import crashpoint
from core.delta.xdelta import PatchPool
from core.errors import (
    AccessDeniedError,
    CancelledError,
    LocalIOError,
    PatchDecodeError,
    RepositoryError,
    SlipstreamError,
)
from core.format.depot import Chunk, DepotFile, unpack_chunk
from core.format.patch import DepotDiff
from core.fs import durable_replace
from core.gamedir.folder import GameDir
from core.net.source import RepoSource
from core.net.transport import Transport
from core.progress import NEVER_CANCELLED, CancelToken, Phase, Progress, ProgressSink, null_sink
from core.update.plan import ChunkReuse, FileAction

READ = 1 << 20


@dataclass(frozen=True)
class ObjectRef:
    """A compressed object to download: a file chunk or a patch chunk."""

    chunk: Chunk
    patches: bool


def file_digest(path: Path, algorithm: str = "md5") -> str:
    digest = hashlib.new(algorithm)
    try:
        with open(path, "rb", buffering=0) as src:
            while piece := src.read(READ):
                digest.update(piece)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read") from None
    return digest.hexdigest()


def matches(path: Path, target: DepotFile) -> bool:
    """Whether the file at ``path`` is exactly ``target`` (size, then sha256 or md5)."""
    try:
        if path.stat().st_size != target.size:
            return False
    except OSError:
        return False
    if target.sha256:
        return file_digest(path, "sha256") == target.sha256
    return file_digest(path) == target.file_md5


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
        self._lock = threading.Lock()

    # --- downloads ---------------------------------------------------------------------

    def object_path(self, ref: ObjectRef) -> Path:
        kind = "p" if ref.patches else "c"
        return self.game.downloads / f"{kind}-{ref.chunk.compressed_md5}"

    def download_all(
        self, refs: Iterable[ObjectRef], *, tolerate: bool = False
    ) -> dict[str, SlipstreamError]:
        """Fetch every object not already downloaded, ``jobs`` at a time.

        With ``tolerate`` (patch chunks, which have a fallback), an object that cannot be
        fetched intact does not stop the others: the failures come back as
        {compressed md5: error}. Otherwise the first failure is raised."""
        todo = {self.object_path(r): r for r in refs}
        todo = {p: r for p, r in todo.items() if not p.is_file()}
        total = sum(r.chunk.compressed_size for r in todo.values())
        done = 0
        self.game.downloads.mkdir(parents=True, exist_ok=True)

        def advance(n: int) -> None:
            nonlocal done
            with self._lock:
                done += n
                self.bytes_downloaded += n
                self.progress(Progress(Phase.DOWNLOADING, done, total))

        failures: dict[str, SlipstreamError] = {}

        def fetch(item: tuple[Path, ObjectRef]) -> None:
            path, ref = item
            self.cancel.raise_if_cancelled()
            partial = path.with_name(path.name + ".part")
            try:
                self._download_object(ref, partial, advance)
            except CancelledError:
                raise
            except SlipstreamError as exc:
                if not tolerate:
                    raise
                with self._lock:
                    failures[ref.chunk.compressed_md5] = exc
                return
            durable_replace(partial, path)  # a power cut must not leave a torn object
            crashpoint("update-object-downloaded")

        self.progress(Progress(Phase.DOWNLOADING, 0, total))
        _run_all(self.jobs, fetch, list(todo.items()))
        return failures

    def _download_object(
        self, ref: ObjectRef, partial: Path, advance: Callable[[int], None]
    ) -> None:
        md5 = ref.chunk.compressed_md5
        urls = self.source.chunk_urls(self.product, md5, ref.patches)
        try:
            self._download_any(urls, partial, ref.chunk, advance)
        except AccessDeniedError:
            # Signed links expire (GOG's after about a day): ask for new ones, once.
            self.source.renew_links(self.product, md5, ref.patches, urls)
            urls = self.source.chunk_urls(self.product, md5, ref.patches)
            self._download_any(urls, partial, ref.chunk, advance)

    def _download_any(
        self, urls: list[str], partial: Path, chunk: Chunk, advance: Callable[[int], None]
    ) -> None:
        errors: list[SlipstreamError] = []
        for url in urls:
            try:
                self.fetcher.download(
                    url,
                    partial,
                    size=chunk.compressed_size,
                    md5=chunk.compressed_md5,
                    what=f"chunk {chunk.compressed_md5}",
                    on_bytes=advance,
                    cancel=self.cancel,
                )
                return
            except CancelledError:
                raise
            except SlipstreamError as exc:  # try the next endpoint
                errors.append(exc)
        denied = [e for e in errors if isinstance(e, AccessDeniedError)]
        if denied:
            raise denied[-1]
        raise errors[-1] if errors else RepositoryError("No endpoint serves the chunks.")

    def inflate(self, ref: ObjectRef) -> bytes:
        """A downloaded object's data, checked against its manifest entry."""
        path = self.object_path(ref)
        chunk = ref.chunk
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise LocalIOError.wrap(exc, "read the downloaded chunk") from None
        try:
            # The fetcher checked the compressed md5 before keeping the object; the chunk's
            # own md5 after inflating still catches anything that happened to it since.
            return unpack_chunk(
                body, chunk, f"chunk {chunk.compressed_md5}", check_compressed=False
            )
        except RepositoryError:
            path.unlink(missing_ok=True)  # the next run fetches it again
            raise

    # --- assembling --------------------------------------------------------------------

    def assemble(self, action: FileAction, sfc: bytes | None = None) -> Path:
        """Write ``action.target`` into staging from fetched and reused chunks."""
        target = action.target
        assert target is not None
        out = self.game.staged_path(action.path)
        reuse = {r.index: r for r in action.reuse}
        try:
            with open(out, "wb") as dst:
                if action.from_sfc:
                    ref = target.sfc_ref
                    if sfc is None or ref is None:
                        raise RepositoryError(f"No small files container for {action.path}.")
                    dst.write(sfc[ref.offset : ref.offset + ref.size])
                else:
                    for index, chunk in enumerate(target.chunks):
                        self.cancel.raise_if_cancelled()
                        dst.write(self._chunk_data(index, chunk, reuse))
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write the staged file") from None
        os.chmod(out, 0o755 if target.executable else 0o644)
        return out

    def _chunk_data(self, index: int, chunk: Chunk, reuse: dict[int, ChunkReuse]) -> bytes:
        hit = reuse.get(index)
        if hit is not None:
            data = _read_at(self.game.game_path(hit.source_path), hit.offset, chunk.size)
            if hashlib.md5(data).hexdigest() == chunk.md5:
                return data
            # The local copy changed since planning: fetch this chunk after all.
            self.download_all([ObjectRef(chunk, False)])
        return self.inflate(ObjectRef(chunk, False))

    def sfc_data(self, chunks: tuple[Chunk, ...]) -> bytes:
        return b"".join(self.inflate(ObjectRef(c, False)) for c in chunks)

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
        checked by the caller. Raises a SlipstreamError on any failure."""
        assert action.source_path is not None and action.target is not None
        source = self.game.game_path(action.source_path)
        first = action.diffs[0]
        if file_digest(source) != first.md5_source:
            raise PatchDecodeError(f"{action.source_path} is not the file the patch was made for.")
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
        os.chmod(out, 0o755 if action.target.executable else 0o644)
        return out


def _read_at(path: Path, offset: int, size: int) -> bytes:
    try:
        with open(path, "rb") as src:
            src.seek(offset)
            return src.read(size)
    except OSError:
        return b""


def _run_all(
    jobs: int, fn: Callable[[tuple[Path, ObjectRef]], None], items: list[tuple[Path, ObjectRef]]
) -> None:
    """Run ``fn`` over ``items`` on ``jobs`` threads; the first error wins and stops the rest."""
    if not items:
        return
    with ThreadPoolExecutor(jobs) as pool:
        futures = [pool.submit(fn, item) for item in items]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
