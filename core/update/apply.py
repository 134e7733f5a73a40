"""Carrying out a plan in staging: download, patch (with fallback), assemble, verify.

The work runs as a pipeline, not in phases: the patch workers start with the update, the
patch chunks download first, each patch starts as soon as its delta is in, and each file is
assembled (and hashed on the way) as soon as its chunks are in, while the rest downloads.
The largest work starts first, so the longest patch or file never runs alone at the end.
Progress still reads as phases, in order: downloading, then the files patched, assembled
and verified, each announced when it starts (most are done by then).

Packed files (Slipstream's patch packs) go the same way as patched ones: their pack
spans download first, one request per pack object (core/update/packs.py), and each
file's entries are cut out, checked by their md5 and decoded in the same worker pool.

A failed patch never stops the update: that one file falls back to its chunks (or the
whole file), the reason is kept, and the failed (md5_source, md5_target) pairs of xdelta3
patches are returned so the install state can remember them and a retry does not loop.
A failed pack entry is not remembered: the pair's xdelta3 patch may still be good.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from core.crashpoint import crashpoint
from core.delta.xdelta import Decoded, PatchPool
from core.errors import (
    CancelledError,
    NotFoundError,
    PatchDecodeError,
    RepositoryError,
    SlipstreamError,
)
from core.format.depot import Chunk
from core.gamedir.folder import GameDir
from core.progress import CancelToken, Phase, Progress, ProgressSink
from core.update.packs import PackSpan, spans_for
from core.update.plan import PATCH_KINDS, FileAction, Plan, PlanKind
from core.update.stage import (
    Download,
    Downloads,
    ObjectRef,
    Stager,
    staged_mode,
    target_digest,
)

FETCHING = (PlanKind.NEW, PlanKind.FULL, PlanKind.CHUNKED)

BATCH_ABOVE = 2**20
"""Files up to this size, patched by one xdelta3 delta or one pack entry, go to the patch
workers several at a time (:meth:`PatchPool.decode_many`, :meth:`PatchPool.decode_entries`):
one pool job per file cost more than the decode of a small file (a round trip through the
pool's queues and threads, each waiting for the GIL while the downloads run), and the
worker hashes each output as it makes it."""
BATCH_BYTES = 4 * 2**20
BATCH_FILES = 32
"""A batch stops at this many bytes of output or files, so that both workers get some."""
THREADS_PER_WORKER = 2
"""Patch threads per patch worker: while a worker decodes, a thread readies its next job
(waits for its deltas, inflates them) or checks the last one."""

_Outcome = tuple[FileAction, str | None, bool]
"""(action, why its patch failed or None, whether the failure is the patch's own)."""


@dataclass
class Applied:
    """What staging produced: the staged paths and what happened on the way."""

    staged: list[FileAction] = field(default_factory=list)
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    failed_pairs: set[tuple[str, str]] = field(default_factory=set)
    patches_applied: int = 0


def objects_of(actions: Iterable[FileAction]) -> list[ObjectRef]:
    """The chunks and patch chunks ``actions`` fetch (pack spans: :func:`spans_for`)."""
    refs: list[ObjectRef] = []
    for action in actions:
        if action.kind == PlanKind.PATCHED:
            refs += [ObjectRef(c, True) for d in action.diffs for c in d.chunks]
        elif action.kind in FETCHING and action.target is not None and not action.from_sfc:
            refs += [ObjectRef(action.target.chunks[i], False) for i in action.fetch]
    return refs


def _size(action: FileAction) -> int:
    return action.target.size if action.target else 0


def apply_plan(
    plan: Plan,
    game: GameDir,
    stager: Stager,
    *,
    patch_jobs: int | None,
    progress: ProgressSink,
    cancel: CancelToken,
    pool: PatchPool | None = None,
) -> Applied:
    """Stage every file of ``plan`` and verify it against its manifest entry.

    ``pool``: patch workers the caller started before planning (:meth:`PatchPool.start`);
    they are stopped here once the patches are done, like the pool made here otherwise."""
    result = Applied()
    work = [a for a in plan.actions if a.kind not in (PlanKind.UNCHANGED, PlanKind.DELETED)]
    patched = sorted((a for a in work if a.kind in PATCH_KINDS), key=_size, reverse=True)
    spans = spans_for(s for a in patched for s in a.packs)
    by_object = {span.object.id: span for span in spans}
    fetched = sorted((a for a in work if a.kind in FETCHING), key=_size, reverse=True)
    sfc_refs = [ObjectRef(c, False) for c in plan.sfc_chunks]
    # The chunks of files assembled here are checked by the file's hash as it is written,
    # so they need no md5 check as they arrive (Stager.check_later); those that one file
    # alone reads stream through memory (Stager.in_memory).
    stager.check_later.update(_chunk_md5s(fetched))
    stager.in_memory.update(_read_once(fetched, plan.sfc_chunks))
    kept = stager.resume(fetched)
    # Left by an error, the stack stops the downloads first (so no thread waits on one
    # that will never start), then drops the patches and files not yet started.
    with ExitStack() as stack:
        stack.callback(stager.drop_flushes)  # last out: no flush outlives an error
        stack.callback(stager.spill_held)  # once the downloads have stopped
        if pool is not None:
            stack.enter_context(pool)
            pool = pool if patched else None
        elif patched:
            pool = stack.enter_context(PatchPool(patch_jobs))
            pool.start()  # the workers start while the update downloads
        threads = THREADS_PER_WORKER * pool.jobs if pool else 1
        patching = stack.enter_context(_Executor(threads, "patch"))
        assembling = stack.enter_context(_Executor(stager.jobs, "assemble"))
        # Pack spans and patch chunks first (small, and the patches can then run during
        # the rest), then the small files container, then each file's chunks in the order
        # it is assembled.
        order: list[Download] = [
            *spans,
            *objects_of(patched),
            *sfc_refs,
            *_assembly_order(fetched, kept, stager.jobs),
        ]
        downloads = stack.enter_context(stager.start_downloads(order, in_memory=True))
        patches = [
            patching.submit(_patch_batch, group, stager, pool, downloads, by_object)
            for group in _batches(patched)
            if pool is not None
        ]

        def build(action: FileAction, downloads: Downloads = downloads) -> Future[None]:
            sfc = stager.sfc_data(plan.sfc_chunks, downloads) if action.from_sfc else None
            return stager.assemble(action, sfc, downloads)

        files = [assembling.submit(build, a) for a in fetched]
        downloads.finish()
        fallbacks = _collect_patches(patches, result, progress, len(patched))
        cancel.raise_if_cancelled()
        if fallbacks:
            stager.check_later.update(_chunk_md5s(fallbacks))
            more = stack.enter_context(stager.start_downloads(objects_of(fallbacks)))
            files += [assembling.submit(build, a, more) for a in fallbacks]
            more.finish()
        done = fetched + fallbacks
        _collect_assembled(files, done, progress)
        stager.wait_flushed()
    crashpoint("update-assembled")
    result.staged += done
    # Patched files were checked as they came out of the pool, and assembled ones were
    # hashed as they were written: verifying compares those hashes, it reads nothing.
    _verify(done, stager, progress, cancel)
    crashpoint("update-verified")
    return result


def _read_once(actions: list[FileAction], sfc: Iterable[Chunk]) -> set[str]:
    """Compressed md5s of the chunks exactly one chunk of one file of ``actions`` reads, and
    not the small files container: each can be dropped once its file has it."""
    uses = Counter(
        c.compressed_md5
        for a in actions
        if a.target is not None and not a.from_sfc
        for c in a.target.chunks
    )
    return {md5 for md5, n in uses.items() if n == 1} - {c.compressed_md5 for c in sfc}


def _assembly_order(actions: list[FileAction], kept: dict[str, int], jobs: int) -> list[ObjectRef]:
    """The chunks ``actions`` fetch, in the order the assembling threads read them. The
    ``jobs`` threads take the files in their order, so the files go ``jobs`` at a time, a
    chunk of each in turn: the objects held in memory are bounded (core/update/stage.py
    ``_Budget``), and with one big file's chunks all before the next file's, one thread
    would assemble while the others waited for room. Chunks that a file taken up again
    (:meth:`Stager.resume`) keeps are not fetched."""
    refs: list[ObjectRef] = []
    for start in range(0, len(actions), max(1, jobs)):
        lanes = [
            [ObjectRef(a.target.chunks[i], False) for i in a.fetch if i >= kept.get(a.path, 0)]
            for a in actions[start : start + max(1, jobs)]
            if a.target is not None and not a.from_sfc
        ]
        for turn in zip_longest(*lanes):
            refs += [ref for ref in turn if ref is not None]
    return refs


def _chunk_md5s(actions: list[FileAction]) -> Iterator[str]:
    for action in actions:
        if action.target is not None and not action.from_sfc:
            yield from (c.compressed_md5 for c in action.target.chunks)


def _batches(patched: list[FileAction]) -> Iterator[list[FileAction]]:
    """``patched`` (largest first) in pool jobs: small files of one delta (xdelta3 patches
    together, pack entries together), up to :data:`BATCH_BYTES` or :data:`BATCH_FILES` a
    job; every other file alone."""
    groups: dict[PlanKind, tuple[list[FileAction], int]] = {}
    for action in patched:
        steps = action.diffs if action.kind == PlanKind.PATCHED else action.packs
        if len(steps) != 1 or _size(action) > BATCH_ABOVE:
            yield [action]
            continue
        group, size = groups.get(action.kind, ([], 0))
        if group and (size + _size(action) > BATCH_BYTES or len(group) == BATCH_FILES):
            yield group
            group, size = [], 0
        group.append(action)
        groups[action.kind] = (group, size + _size(action))
    for group, _ in groups.values():
        if group:
            yield group


def _patch_batch(
    actions: list[FileAction],
    stager: Stager,
    pool: PatchPool | None,
    downloads: Downloads,
    spans: dict[str, PackSpan],
) -> list[_Outcome]:
    """Patch ``actions`` (one, or several small one-delta files of one kind) in one pool
    job."""
    assert pool is not None
    if len(actions) == 1:
        return [_patch_one(actions[0], stager, pool, downloads, spans)]
    packed = actions[0].kind == PlanKind.PACKED
    outcomes: dict[str, _Outcome] = {}
    ready: list[tuple[FileAction, Path]] = []
    try:
        for action in actions:
            stager.cancel.raise_if_cancelled()
            refs: list[Download] = (
                [spans[action.packs[0].object.id]]
                if packed
                else [ObjectRef(c, True) for c in action.diffs[0].chunks]
            )
            lost = [error for ref in refs if (error := downloads.wait(ref)) is not None]
            if lost:
                bad = not packed and not all(isinstance(e, NotFoundError) for e in lost)
                why = f"its patch could not be downloaded: {lost[0]}"
                outcomes[action.path] = (action, why, bad)
                continue
            try:
                delta = (
                    stager.pack_delta(action, spans)
                    if packed
                    else stager.delta_file(action.diffs[0])
                )
            except CancelledError:
                raise
            except SlipstreamError as exc:
                outcomes[action.path] = _failed(action, stager, str(exc))
                continue
            ready.append((action, delta))
        outs = [stager.game.staged_path(action.path) for action, _ in ready]
        try:
            results = _decode_batch(ready, outs, stager, pool, packed) if ready else []
        except PatchDecodeError:
            # A worker died on one of them (a crash on a hostile patch): each alone, so
            # that only that file falls back (and has its xdelta3 pair remembered). A
            # source that is no longer a regular file (a FIFO would block a fresh worker
            # for good) is not the file the patch was made for: no second try.
            for action, _ in ready:
                if not _source_is_regular(action, stager):
                    outcomes[action.path] = _failed(action, stager, "not a regular file")
                    continue
                outcomes[action.path] = _patch_one(action, stager, pool, downloads, spans)
            return [outcomes[a.path] for a in actions]
    finally:
        if packed:  # cut out for this batch only (a file patched alone cuts its own)
            for _, delta in ready:
                delta.unlink(missing_ok=True)
    for (action, _), out, got in zip(ready, outs, results, strict=True):
        assert action.target is not None
        if isinstance(got, PatchDecodeError):
            outcomes[action.path] = _failed(action, stager, str(got))
            continue
        if got != (action.target.size, target_digest(action.target)[1]):
            failure = "the patched file does not match the new build"
            outcomes[action.path] = _failed(action, stager, failure)
            continue
        crashpoint("update-patch-applied")
        try:
            staged_mode(out, action.target.executable)
        except SlipstreamError as exc:
            outcomes[action.path] = _failed(action, stager, str(exc))
            continue
        # Flushed while other files patch: the commit then has no unflushed file of
        # this batch to fsync on its own critical path.
        stager.flush_later(action.path, out)
        outcomes[action.path] = (action, None, False)
    return [outcomes[a.path] for a in actions]


def _source_is_regular(action: FileAction, stager: Stager) -> bool:
    assert action.source_path is not None
    try:
        return stager.game.game_path(action.source_path).is_file()
    except SlipstreamError:
        return False


def _decode_batch(
    ready: list[tuple[FileAction, Path]],
    outs: list[Path],
    stager: Stager,
    pool: PatchPool,
    packed: bool,
) -> list[Decoded]:
    """Decode and hash ``ready`` (action, its delta) into ``outs`` in one pool job."""
    if packed:
        entries = []
        for (action, delta), out in zip(ready, outs, strict=True):
            assert action.source_path is not None and action.target is not None
            entry = action.packs[0].entry
            source = stager.game.game_path(action.source_path)
            algorithm = target_digest(action.target)[0]
            entries.append((entry.codec, source, delta, out, entry.size_target, algorithm))
        return pool.decode_entries(entries).result()
    items = []
    for (action, delta), out in zip(ready, outs, strict=True):
        assert action.source_path is not None and action.target is not None
        source = stager.game.game_path(action.source_path)
        items.append((source, delta, out, target_digest(action.target)[0]))
    return pool.decode_many(items).result()


def _failed(action: FileAction, stager: Stager, failure: str) -> _Outcome:
    """The outcome of a patch that failed, naming a changed source as the cause; only an
    xdelta3 patch's pair is remembered (a pair's xdelta3 patch may still be good when
    its pack entry is not)."""
    if not stager.source_is_expected(action):
        failure = f"{action.source_path} is not the file the patch was made for."
    return action, failure, action.kind != PlanKind.PACKED


def _patch_one(
    action: FileAction,
    stager: Stager,
    pool: PatchPool | None,
    downloads: Downloads,
    spans: dict[str, PackSpan],
) -> _Outcome:
    assert action.target is not None and pool is not None
    packed = action.kind == PlanKind.PACKED
    needed: list[Download] = (
        [spans[s.object.id] for s in action.packs]
        if packed
        else [ObjectRef(c, True) for d in action.diffs for c in d.chunks]
    )
    lost = [error for ref in needed if (error := downloads.wait(ref)) is not None]
    if lost:
        # A 404 (the pair pruned while we planned, a CDN not yet filled) may pass;
        # wrong bytes or lengths from the server stay wrong.
        bad = not packed and not all(isinstance(e, NotFoundError) for e in lost)
        return action, f"its patch could not be downloaded: {lost[0]}", bad
    try:
        if packed:
            stager.apply_packs(action, pool, spans)
        else:
            stager.apply_chain(action, pool)
        if stager.patched_matches(action):
            return action, None, False
        failure = "the patched file does not match the new build"
    except CancelledError:
        raise
    except SlipstreamError as exc:
        failure = str(exc)
    if not stager.source_is_expected(action):
        failure = f"{action.source_path} is not the file the patch was made for."
    return action, failure, not packed


def _collect_patches(
    futures: list[Future[list[_Outcome]]], result: Applied, progress: ProgressSink, total: int
) -> list[FileAction]:
    """Report each patch in the order it was started; the fallbacks of those that failed."""
    fallbacks: list[FileAction] = []
    if futures:
        progress(Progress(Phase.PATCHING, 0, total, "", "files"))
    outcomes = (outcome for future in futures for outcome in future.result())
    for done, (action, failure, remember) in enumerate(outcomes, 1):
        progress(Progress(Phase.PATCHING, done, total, action.path, "files"))
        if failure is None:
            result.patches_applied += 1
            result.staged.append(action)
            continue
        result.fallbacks.append((action.path, failure))
        if remember:
            result.failed_pairs.update((d.md5_source, d.md5_target) for d in action.diffs)
        if action.fallback is None:
            raise RepositoryError(f"{action.path} could not be patched and has no fallback.")
        fallbacks.append(action.fallback)
    return fallbacks


def _collect_assembled(
    futures: list[Future[Future[None]]], actions: list[FileAction], progress: ProgressSink
) -> None:
    """Report each file assembled, in order, once it is on the disk: on a slow disk the
    count follows the flushes (:meth:`Stager.flush_later`), instead of standing at the
    total while they finish."""
    total = len(actions)
    if actions:
        progress(Progress(Phase.ASSEMBLING, 0, total, "", "files"))
    for done, (action, future) in enumerate(zip(actions, futures, strict=True), 1):
        future.result().result()
        progress(Progress(Phase.ASSEMBLING, done, total, action.path, "files"))


def _verify(
    staged: list[FileAction], stager: Stager, progress: ProgressSink, cancel: CancelToken
) -> None:
    if staged:
        progress(Progress(Phase.VERIFYING, 0, len(staged), "", "files"))
    for done, action in enumerate(staged, 1):
        cancel.raise_if_cancelled()
        if not stager.staged_matches(action):
            raise RepositoryError(
                f"{action.path} did not verify after staging; nothing was changed. Run the "
                "update again."
            )
        progress(Progress(Phase.VERIFYING, done, len(staged), action.path, "files"))


class _Executor(ThreadPoolExecutor):
    """A thread pool that, left by an exception, drops the jobs not yet started."""

    def __init__(self, jobs: int, name: str) -> None:
        super().__init__(max(1, jobs), name)

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.shutdown(wait=True, cancel_futures=exc is not None)
