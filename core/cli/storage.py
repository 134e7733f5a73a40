"""``--repo`` for the publisher's commands: a folder, or an object store URL
(``s3://bucket/prefix``, any fsspec URL) worked on through a local mirror
(core/publish/sync.py), with ``--storage-option`` and ``--cache``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UsageError
from core.progress import NEVER_CANCELLED, CancelToken, ProgressSink
from core.units import format_bytes

STORE_COMMANDS = frozenset({"publish", "promote", "prune", "keys", "timestamp", "graph", "stats"})
"""The commands whose ``--repo`` may be an object store."""
READ_ONLY = frozenset({"graph", "stats"})
"""...of which these only read it (``stats``: the history this machine's cache keeps)."""


def repo_value(value: str) -> Path | str:
    """A storage URL stays a string; anything else is a folder."""
    from core.publish.storage import is_store_url

    return value if is_store_url(value) else Path(value)


def repo_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        required=True,
        type=repo_value,
        metavar="DIR|URL",
        help="repository folder, or object storage URL (s3://bucket/prefix, any fsspec URL)",
    )
    parser.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option for the object store, e.g. endpoint_url=https://… (repeatable)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="local mirror of an object store (default: under $SLIPSTREAM_HOME/publish-cache)",
    )


@dataclass
class Uploaded:
    """A command's report with what it moved to and from the store."""

    report: Any
    sync: Any

    def to_json(self) -> dict[str, Any]:
        return {**self.report.to_json(), "storage": self.sync.to_json()}


def run_on_repo(
    args: argparse.Namespace,
    run: Callable[[], Any],
    progress: ProgressSink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> Any:
    """Run the command on ``args.repo``; for a storage URL, on its pulled mirror, then
    push what it wrote (``timestamp``: only the signed metadata; a dry run: nothing)."""
    repo = getattr(args, "repo", None)
    if args.command not in STORE_COMMANDS or not isinstance(repo, str):
        if getattr(args, "storage_option", None) or getattr(args, "cache", None):
            raise UsageError("--storage-option and --cache are for a storage URL --repo.")
        return run()
    from core.publish.storage import parse_storage_options
    from core.publish.sync import RemoteRepo

    options = parse_storage_options(args.storage_option)
    with RemoteRepo(repo, options=options, cache=args.cache, progress=progress) as remote:
        args.repo = remote.mirror
        args.sweep = remote.sweep()
        report = run()
        if args.command in READ_ONLY:
            return report
        if not getattr(args, "dry_run", False):
            remote.push(metadata_only=args.command == "timestamp", cancel=cancel)
        args.repo = repo
    return Uploaded(report, remote.report)


def describe(report: Any, describe_report: Callable[[Any], str]) -> str:
    if not isinstance(report, Uploaded):
        return describe_report(report)
    sync = report.sync
    lines = [
        describe_report(report.report),
        f"Store {sync.url} (cache {sync.cache}):",
        f"  uploaded {sync.objects_uploaded} objects ({format_bytes(sync.bytes_uploaded)}) "
        f"and {len(sync.documents_uploaded)} documents; "
        f"{sync.objects_present + sync.objects_known} objects were there already "
        f"({sync.objects_present} found there, {sync.objects_known} known)",
    ]
    if sync.keys_deleted:
        lines.append(f"  deleted {sync.keys_deleted} keys the store no longer needs")
    if sync.documents_pulled or sync.objects_pulled:
        lines.append(
            f"  fetched {sync.documents_pulled} documents and {sync.objects_pulled} objects "
            "from the store into the cache"
        )
    return "\n".join(lines)
