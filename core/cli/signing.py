"""The publisher's signing commands (``keys init``, ``keys rotate``, ``timestamp``) and the
``--keys`` option that ``publish``, ``promote`` and ``prune`` take (docs/signing.md)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.cli.storage import repo_options
from core.errors import SigningKeysError, UsageError
from core.progress import CancelToken, ProgressSink
from core.trust.names import ROLES, short_ids

SIGNED_COMMANDS = frozenset({"publish", "promote", "prune"})
"""The commands that change a repository's documents, and so re-sign a signed one."""


def keys_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keys",
        type=Path,
        default=None,
        metavar="DIR",
        help="signing keys folder, outside the repository (default: $SLIPSTREAM_KEYS)",
    )


def add_parsers(sub: Any, common_options: Any) -> None:
    p = sub.add_parser("keys", help="sign a repository: make or rotate its keys")
    keys_sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    k = keys_sub.add_parser("init", help="make the four role keys and sign the repository")
    repo_options(k)
    keys_option(k)
    k.add_argument("--threshold", type=int, default=1, help="keys per role, all needed (default 1)")
    common_options(k)
    k = keys_sub.add_parser("rotate", help="replace a role's key (signed by the root key)")
    repo_options(k)
    keys_option(k)
    k.add_argument("--role", required=True, choices=ROLES)
    common_options(k)

    p = sub.add_parser("timestamp", help="refresh a signed repository's timestamp (for cron)")
    repo_options(p)
    keys_option(p)
    p.add_argument(
        "--expires",
        type=float,
        default=24 * 3600,
        metavar="SECONDS",
        help="how long the new timestamp is valid (default 1 day)",
    )
    common_options(p)


def _keys(args: argparse.Namespace) -> Path:
    from core.publish.keys import KEYS_ENV, keys_folder

    folder = keys_folder(args.keys)
    if folder is None:
        raise SigningKeysError(f"Name the keys folder with --keys DIR or ${KEYS_ENV}.")
    return folder


def cmd_keys(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> Any:
    from core.publish import signing

    if args.keys_command == "init":
        return signing.init_repository(args.repo, _keys(args), threshold=args.threshold)
    return signing.rotate_key(args.repo, _keys(args), args.role)


def cmd_timestamp(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> Any:
    from core.publish import signing

    if not 0 < args.expires <= 366 * 24 * 3600:
        raise UsageError("--expires must be between 1 second and a year.")
    return signing.refresh_timestamp(args.repo, _keys(args), timedelta(seconds=args.expires))


def describe_signing(report: Any) -> str:
    versions = ", ".join(f"{role} v{report.versions[role]}" for role in ROLES)
    wrote = ", ".join(report.changed) or "nothing (no document changed)"
    return "\n".join(
        [
            f"Signed {report.repo}: wrote {wrote}",
            f"  root key {short_ids(report.root_key_ids)}; {report.targets} signed documents",
            f"  {versions}; the timestamp expires {report.expires['timestamp']}",
            *(f"  note: {note}" for note in report.notes),
        ]
    )


@contextmanager
def signed_writes(args: argparse.Namespace) -> Iterator[None]:
    """Around publish, promote and prune: refuse an unsigned write into a signed
    repository, and sign what the command wrote (core/publish/signing.py)."""
    from core.publish.keys import keys_folder
    from core.publish.signing import resigning

    with resigning(
        args.repo,
        keys_folder(args.keys),
        explicit=args.keys is not None,
        dry_run=getattr(args, "dry_run", False),
    ):
        yield
