"""``slipstream promote``: put an already published build on another branch.

No chunk or manifest is copied: the branch gets a new listing item pointing at the same
build manifest, and the patch chain of that branch is extended to the build (patches
from the branch's last K builds), rebuilding both ends of each pair from the repository.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from core.errors import BuildNotFoundError, FormatError, UsageError
from core.format import layout
from core.format.builds import DATE_FORMAT
from core.progress import NEVER_CANCELLED, CancelToken, ProgressSink, null_sink
from core.publish import metrics
from core.publish.catalog import Catalog, LoadedBuild
from core.publish.lock import RepoLock
from core.publish.publisher import (
    PublishOptions,
    PublishReport,
    count_objects,
    extend_chain,
    patch_sources,
)
from core.publish.store import ObjectStore


def promote(
    repo_dir: Path,
    options: PublishOptions,
    build_id: str,
    *,
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> PublishReport:
    """Add build ``build_id`` to ``options.branch`` (``None``: the default, public branch)."""
    options.check()
    try:
        layout.check_id(build_id, "--build")
    except FormatError as exc:
        raise UsageError(exc.detail) from None
    started = time.monotonic()
    progress = clock = metrics.Clock(progress)  # times the phases for the history
    repo = layout.RepoLayout(repo_dir)
    if not repo_dir.is_dir():
        raise BuildNotFoundError(f"There is no repository at {repo_dir}.")
    with RepoLock(repo.state_dir), ObjectStore(repo, options.jobs) as store:
        catalog = Catalog(repo, options.product)
        listing = catalog.listing(options.os)
        item = listing.find(build_id)
        if item is None:
            raise BuildNotFoundError(
                f"Build {build_id} of product {options.product} ({options.os}) is not published."
            )
        loaded = catalog.load_build(item)
        report = PublishReport(
            options.product, options.os, build_id, item.version_name, options.branch
        )
        report.files = len(loaded.files)
        report.bytes = sum(f.size for f in loaded.files.values())
        report.compressed_bytes = loaded.download_bytes
        if any(i.build_id == build_id and i.branch == options.branch for i in listing.items):
            report.unchanged = True
            metrics.append(repo_dir, metrics.publish_record("promote", report, clock, store))
            return report
        now = datetime.now(UTC).strftime(DATE_FORMAT)
        promoted = LoadedBuild(
            replace(item, branch=options.branch, date_published=now),
            loaded.manifest,
            loaded.depots,
        )
        # Only the builds that get a patch are loaded: each is a depot manifest to parse.
        recent = patch_sources(listing.items, options, skip=build_id)
        olds = [catalog.load_build(i) for i in recent[: options.patch_depth]]
        extend_chain(
            catalog, store, olds, promoted, lambda f: None, options, report, progress, cancel
        )
        count_objects(report, store)
        metrics.append(repo_dir, metrics.publish_record("promote", report, clock, store))
    report.seconds = round(time.monotonic() - started, 3)
    return report
