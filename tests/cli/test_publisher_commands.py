"""The publisher's commands as text: what ``prune``, ``graph`` and ``stats`` print."""

from __future__ import annotations

from core.cli import commands as cli
from core.publish.prune import PruneReport


def test_prune_message_has_no_dangling_colon() -> None:
    nothing = cli.describe_prune(PruneReport(dry_run=False))
    assert nothing.splitlines()[0] == "0 listing entries were removed."
    report = PruneReport(dry_run=True, builds_removed=[("windows", "1", None)])
    lines = cli.describe_prune(report).splitlines()
    assert lines[:2] == [
        "1 listing entries would be removed:",
        "  build 1 (windows, public branch)",
    ]


def test_from_branch_reaches_the_publish_options() -> None:
    args = cli.build_parser().parse_args(
        [
            "promote",
            "--repo",
            "r",
            "--product",
            "1",
            "--build",
            "2",
            "--branch",
            "rc",
            "--from-branch",
            "beta",
        ]
    )
    options = cli._options(args)
    assert (options.branch, options.from_branch) == ("rc", "beta")
    default = cli.build_parser().parse_args(
        ["promote", "--repo", "r", "--product", "1", "--build", "2"]
    )
    assert cli._options(default).from_branch is None
