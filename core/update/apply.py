"""Carrying out a plan in staging: download, patch (with fallback), assemble, verify.

A failed patch never stops the update: that one file falls back to its chunks (or the
whole file), the reason is kept, and the failed (md5_source, md5_target) pairs are
returned so the install state can remember them and a retry does not loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from core.crashpoint import crashpoint
from core.delta.xdelta import PatchPool
from core.errors import CancelledError, NotFoundError, RepositoryError, SlipstreamError
from core.gamedir.folder import GameDir
from core.progress import CancelToken, Phase, Progress, ProgressSink
from core.update.plan import FileAction, Plan, PlanKind
from core.update.stage import ObjectRef, Stager, matches

FETCHING = (PlanKind.NEW, PlanKind.FULL, PlanKind.CHUNKED)


@dataclass
class Applied:
    """What staging produced: the staged paths and what happened on the way."""

    staged: list[FileAction] = field(default_factory=list)
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    failed_pairs: set[tuple[str, str]] = field(default_factory=set)
    patches_applied: int = 0


def objects_of(actions: Iterable[FileAction]) -> list[ObjectRef]:
    refs: list[ObjectRef] = []
    for action in actions:
        if action.kind == PlanKind.PATCHED:
            refs += [ObjectRef(c, True) for d in action.diffs for c in d.chunks]
        elif action.kind in FETCHING and action.target is not None and not action.from_sfc:
            refs += [ObjectRef(action.target.chunks[i], False) for i in action.fetch]
    return refs


def apply_plan(
    plan: Plan,
    game: GameDir,
    stager: Stager,
    *,
    patch_jobs: int | None,
    progress: ProgressSink,
    cancel: CancelToken,
) -> Applied:
    """Stage every file of ``plan`` and verify it against its manifest entry."""
    result = Applied()
    work = [a for a in plan.actions if a.kind not in (PlanKind.UNCHANGED, PlanKind.DELETED)]
    # Largest first, so the longest decode does not start last and run alone.
    patched = sorted(
        (a for a in work if a.kind == PlanKind.PATCHED),
        key=lambda a: a.target.size if a.target else 0,
        reverse=True,
    )
    plain = [a for a in work if a.kind != PlanKind.PATCHED]
    stager.download_all(objects_of(plain) + [ObjectRef(c, False) for c in plan.sfc_chunks])
    # Patch chunks have a fallback: one that cannot be fetched intact costs its file a
    # patch, not the update.
    missing = stager.download_all(objects_of(patched), tolerate=True)
    if patched:
        _patch_all(patched, stager, result, patch_jobs, progress, cancel, missing)
    sfc = stager.sfc_data(plan.sfc_chunks) if plan.sfc_chunks else None
    fetched = [a for a in work if a.kind in FETCHING]
    _run(stager.jobs, lambda a: stager.assemble(a, sfc), fetched, Phase.ASSEMBLING, progress)
    crashpoint("update-assembled")
    result.staged += fetched
    # Patched files were checked against the manifest as they came out of the pool;
    # hashing them again would only cost time.
    unverified = [a for a in result.staged if a.kind != PlanKind.PATCHED]
    _verify(unverified, game, stager.jobs, progress, cancel)
    crashpoint("update-verified")
    return result


def _patch_all(
    actions: list[FileAction],
    stager: Stager,
    result: Applied,
    patch_jobs: int | None,
    progress: ProgressSink,
    cancel: CancelToken,
    missing: dict[str, SlipstreamError],
) -> None:
    done = 0
    fallbacks: list[FileAction] = []
    with PatchPool(patch_jobs) as pool:

        def one(action: FileAction) -> tuple[FileAction, str | None, bool]:
            """(action, why it failed or None, whether the failure is the patch's own)."""
            assert action.target is not None
            lost = [
                missing[c.compressed_md5]
                for d in action.diffs
                for c in d.chunks
                if c.compressed_md5 in missing
            ]
            if lost:
                # A 404 (the pair pruned while we planned, a CDN not yet filled) may pass;
                # wrong bytes or lengths from the server stay wrong.
                bad = not all(isinstance(e, NotFoundError) for e in lost)
                return action, f"its patch could not be downloaded: {lost[0]}", bad
            try:
                out = stager.apply_chain(action, pool)
                if not matches(out, action.target):
                    return action, "the patched file does not match the new build", True
                return action, None, False
            except CancelledError:
                raise
            except SlipstreamError as exc:
                return action, str(exc), True

        with ThreadPoolExecutor(pool.jobs) as threads:
            for action, failure, remember in threads.map(one, actions):
                done += 1
                progress(Progress(Phase.PATCHING, done, len(actions), action.path, "files"))
                if failure is None:
                    result.patches_applied += 1
                    result.staged.append(action)
                    continue
                result.fallbacks.append((action.path, failure))
                if remember:
                    result.failed_pairs.update((d.md5_source, d.md5_target) for d in action.diffs)
                if action.fallback is None:
                    raise RepositoryError(
                        f"{action.path} could not be patched and has no fallback."
                    )
                fallbacks.append(action.fallback)
    cancel.raise_if_cancelled()
    if fallbacks:
        stager.download_all(objects_of(fallbacks))
        _run(stager.jobs, stager.assemble, fallbacks, Phase.ASSEMBLING, progress)
        result.staged += fallbacks


def _verify(
    staged: list[FileAction], game: GameDir, jobs: int, progress: ProgressSink, cancel: CancelToken
) -> None:
    def check(action: FileAction) -> None:
        cancel.raise_if_cancelled()
        assert action.target is not None
        if not matches(game.staged_path(action.path), action.target):
            raise RepositoryError(
                f"{action.path} did not verify after staging; nothing was changed. Run the "
                "update again."
            )

    _run(jobs, check, staged, Phase.VERIFYING, progress)


def _run(
    jobs: int,
    fn: Callable[[FileAction], object],
    actions: list[FileAction],
    phase: Phase,
    progress: ProgressSink,
) -> None:
    done = 0
    with ThreadPoolExecutor(max(1, jobs)) as threads:
        for action, _ in zip(actions, threads.map(fn, actions), strict=True):
            done += 1
            progress(Progress(phase, done, len(actions), action.path, "files"))
