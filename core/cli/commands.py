"""The ``slipstream`` command: the engine's headless twin of the window.

Every command prints human text, or one JSON document with ``--json``. Exit status is 0
on success, 1 on failure (one line on stderr naming the cause), 2 on usage errors and
130 when cancelled. Ctrl-C asks the running operation to stop at its next safe point;
a second Ctrl-C stops at once.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from core import __version__
from core.cli import player as cli_player
from core.cli import signing as cli_signing
from core.cli import storage as cli_storage
from core.cli.player import PUBLIC, branch_of, common_options
from core.cli.termprogress import TerminalProgress, show_retries
from core.errors import SlipstreamError
from core.progress import CancelToken, ProgressSink, null_sink
from core.units import format_bytes, percent_saved


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the README promises it), not the usage
    block: the line names the mistake and where the usage is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"slipstream: error: {message} (run '{self.prog} --help' for usage)\n")


def _port(value: str) -> int:
    """``--port``: 0 (any free port) to 65535."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return port


def _publish_options(parser: argparse.ArgumentParser) -> None:
    cli_storage.repo_options(parser)
    parser.add_argument("--product", required=True, help="product id (digits)")
    parser.add_argument("--os", default="windows", choices=["windows", "osx", "linux"])
    parser.add_argument(
        "--branch", default=PUBLIC, help=f"branch name ('{PUBLIC}' is the default branch)"
    )
    parser.add_argument(
        "--from-branch",
        default=PUBLIC,
        metavar="BRANCH",
        help="a new branch's first build is patched from this branch's builds "
        f"(default '{PUBLIC}')",
    )
    parser.add_argument(
        "--patch-depth",
        type=int,
        default=3,
        metavar="K",
        help="make patches from the last K builds of the branch (default 3)",
    )
    parser.add_argument("--jobs", type=int, default=None, help="worker count (default: cores)")
    parser.add_argument(
        "--no-packs",
        action="store_true",
        help="make only GOG's xdelta3 patch depots, no Slipstream patch packs",
    )
    parser.add_argument(
        "--base-url",
        default="",
        help="write absolute links under this URL (for plain web servers and CDNs)",
    )
    cli_signing.keys_option(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slipstream", description="Game updater with differential downloads.")
    parser.add_argument("--version", action="version", version=f"slipstream {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("publish", help="publish a build folder into a repository")
    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    _publish_options(p)
    p.add_argument("--build-id", help="build id (default: one more than the newest)")
    p.add_argument("--version-name", help="version shown to players (default: folder name)")
    p.add_argument("--name", help="product name (default: the previous build's)")
    p.add_argument("--install-dir", help="install folder name (default: from the name)")
    p.add_argument("--icon", type=Path, help="the game's icon (PNG, JPEG or WebP) for libraries")
    p.add_argument("--cover", type=Path, help="the game's cover art (PNG, JPEG or WebP)")
    p.add_argument(
        "--launch", metavar="PATH", help="the file that starts the game, relative to BUILD_DIR"
    )
    p.add_argument(
        "--lang",
        action="append",
        default=None,
        metavar="CODE",
        help="language code of the depot (repeatable, default en-US)",
    )
    common_options(p)

    p = sub.add_parser("promote", help="add a published build to another branch")
    _publish_options(p)
    p.add_argument("--build", required=True, help="the build id to promote")
    common_options(p)

    p = sub.add_parser("prune", help="drop old builds and unreferenced objects")
    cli_storage.repo_options(p)
    p.add_argument("--product", required=True)
    p.add_argument(
        "--keep-builds",
        type=int,
        default=3,
        metavar="N",
        help="builds to keep on every branch (default 3)",
    )
    p.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="BUILD",
        help="also keep this build (repeatable)",
    )
    p.add_argument(
        "--grace",
        type=float,
        default=24 * 3600,
        metavar="SECONDS",
        help="delete objects only after they were unreferenced this long (default 1 day)",
    )
    p.add_argument("--dry-run", action="store_true", help="report what would go, change nothing")
    cli_signing.keys_option(p)
    common_options(p)
    cli_signing.add_parsers(sub, common_options)

    p = sub.add_parser("graph", help="show a product's builds, patch edges and update costs")
    cli_storage.repo_options(p)
    p.add_argument("--product", required=True)
    p.add_argument("--os", choices=["windows", "osx", "linux"], help="default: every OS")
    p.add_argument("--dot", action="store_true", help="print Graphviz text (dot -Tsvg)")
    common_options(p)

    p = sub.add_parser("stats", help="show the publish history: time, update cost, savings")
    cli_storage.repo_options(p)
    p.add_argument("--product", help="only this product (default: every product)")
    common_options(p)

    p = sub.add_parser("serve", help="serve a repository over HTTP")
    p.add_argument("--repo", required=True, type=Path)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=0, help="0 picks a free port")
    p.add_argument("--verbose", action="store_true", help="log every request")

    cli_player.add_parsers(sub)

    p = sub.add_parser("demo", help="publish the built-in sample game and serve it")
    p.add_argument("--dir", type=Path, default=Path("demo-data"), help="where to keep it")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=0)
    return parser


def _options(args: argparse.Namespace, **extra: Any) -> Any:
    from core.publish.publisher import PublishOptions

    return PublishOptions(
        product=args.product,
        os=args.os,
        branch=branch_of(args.branch),
        from_branch=branch_of(args.from_branch),
        patch_depth=args.patch_depth,
        jobs=args.jobs,
        base_url=args.base_url.rstrip("/"),
        packs=not args.no_packs,
        **extra,
    )


def cmd_publish(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> Any:
    from core.publish.publisher import publish

    options = _options(
        args,
        build_id=args.build_id,
        version_name=args.version_name,
        name=args.name,
        install_directory=args.install_dir,
        icon=args.icon,
        cover=args.cover,
        launch=args.launch,
        languages=tuple(args.lang or ["en-US"]),
    )
    return publish(args.build_dir, args.repo, options, progress=sink, cancel=cancel)


def cmd_promote(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> Any:
    from core.publish.promote import promote

    return promote(args.repo, _options(args), args.build, progress=sink, cancel=cancel)


def cmd_prune(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> Any:
    from core.publish.prune import prune

    return prune(
        args.repo,
        args.product,
        keep_builds=args.keep_builds,
        keep=args.keep,
        grace=args.grace,
        dry_run=args.dry_run,
        progress=sink,
        sweep=getattr(args, "sweep", None),  # an object store's objects (cli/storage.py)
    )


def describe_publish(report: Any) -> str:
    branch = f"branch {report.branch}" if report.branch else "the default branch"
    if report.unchanged:
        return (
            f"Nothing to publish: the folder is identical to build {report.build_id} "
            f"({report.version_name}) on {branch}; the repository is unchanged."
        )
    lines = [
        f"Published build {report.build_id} ({report.version_name}) of product "
        f"{report.product} for {report.os} on {branch} in {report.seconds:.1f} s",
        f"  {report.files} files, {format_bytes(report.bytes)} "
        f"({format_bytes(report.compressed_bytes)} to download in full), {report.chunks} chunks",
        f"  objects: {report.objects_written} written ({format_bytes(report.bytes_written)}), "
        f"{report.objects_reused} already present",
        f"  patches: {report.patches_encoded} encoded, {report.patches_cached} reused from cache",
        f"  pack deltas: {report.packs_encoded} encoded, {report.packs_cached} reused from cache",
    ]
    lines += [f"  no patch (encoding failed): {reason}" for reason in report.patch_failures]
    return "\n".join(lines + _edge_lines(report.edges))


def _edge_lines(edges: Any) -> list[str]:
    lines = []
    for edge in edges:
        if edge.index is None:
            lines.append(f"  from build {edge.from_build}: no patch pays off; players fetch chunks")
            continue
        lines.append(
            f"  update from build {edge.from_build}: {format_bytes(edge.update_bytes)} instead of "
            f"{format_bytes(edge.full_bytes)} "
            f"({percent_saved(edge.update_bytes, edge.full_bytes):.1f}% saved; "
            f"{edge.files_patched} of {edge.files_changed} changed files patched)"
        )
        lines.append(
            f"    xdelta3 patches {format_bytes(edge.patch_bytes)}"
            + (
                f", pack {format_bytes(edge.pack.bytes)} "
                f"({edge.pack.files} files, {edge.pack_bytes / edge.patch_bytes:.2f}×)"
                if edge.pack is not None and edge.patch_bytes
                else ", no pack"
            )
        )
    return lines


def describe_promote(report: Any) -> str:
    branch = f"branch {report.branch}" if report.branch else "the default branch"
    if report.unchanged:
        return f"Build {report.build_id} is already on {branch}; nothing changed."
    lines = [
        f"Promoted build {report.build_id} ({report.version_name}) to {branch} "
        f"in {report.seconds:.1f} s; no chunk was copied.",
        f"  patches: {report.patches_encoded} encoded, {report.patches_cached} reused from cache",
    ]
    return "\n".join(lines + _edge_lines(report.edges))


def describe_prune(report: Any) -> str:
    verb = "would be" if report.dry_run else "were"
    removed = len(report.builds_removed)
    # A colon only when the entries it announces follow.
    lines = [f"{removed} listing entries {verb} removed" + (":" if removed else ".")]
    lines += [f"  build {b} ({o}, {br or PUBLIC} branch)" for o, b, br in report.builds_removed]
    lines.append(f"{len(report.pairs_removed)} patch pairs {verb} removed.")
    lines.append(
        f"{report.objects_deleted} objects {verb} deleted, freeing "
        f"{format_bytes(report.bytes_freed)}; {report.objects_kept} objects are in use."
    )
    if report.objects_waiting:
        lines.append(
            f"{report.objects_waiting} unreferenced objects ({format_bytes(report.bytes_waiting)}) "
            "are kept until their grace period ends."
        )
    return "\n".join(lines)


def cmd_graph(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> Any:
    from core.errors import UsageError
    from core.publish.graphview import chain_view

    if args.dot and args.json:
        raise UsageError("--dot and --json each print the whole chain: choose one.")
    view = chain_view(args.repo, args.product, args.os)
    view.dot = args.dot
    return view


def describe_graph(view: Any) -> str:
    from core.publish.graphview import render_dot, render_text

    return render_dot(view).rstrip("\n") if view.dot else render_text(view)


def cmd_stats(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> Any:
    from core.publish.metrics import stats

    return stats(args.repo, args.product)


def describe_stats(result: Any) -> str:
    from core.publish.metrics import render_stats

    return render_stats(result)


COMMANDS: dict[str, tuple[Callable[..., Any], Callable[[Any], str]]] = {
    "publish": (cmd_publish, describe_publish),
    "promote": (cmd_promote, describe_promote),
    "prune": (cmd_prune, describe_prune),
    "graph": (cmd_graph, describe_graph),
    "stats": (cmd_stats, describe_stats),
    "keys": (cli_signing.cmd_keys, cli_signing.describe_signing),
    "timestamp": (cli_signing.cmd_timestamp, cli_signing.describe_signing),
}


def run_demo(args: argparse.Namespace) -> int:
    from core.demo.start import DEMO_NAME, DEMO_PRODUCT, start_demo

    bar = TerminalProgress()
    try:
        demo = start_demo(args.dir, args.host, args.port, bar)
    finally:
        bar.close()
    game = demo.game
    print(f"serving {demo.repo} at {demo.url}", flush=True)
    print(
        f"{DEMO_NAME} (product {DEMO_PRODUCT}) has three builds; {demo.version} is installed "
        f"in {game}.\nUpdate it with:  slipstream update {game}\n"
        f"Roll it back with:  slipstream rollback {game}\nPress Ctrl-C to stop the server.",
        flush=True,
    )
    try:
        while demo.thread.is_alive():
            demo.thread.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        demo.stop()
    return 0


def _run_player(args: argparse.Namespace, cancel: CancelToken) -> int:
    bar = None if getattr(args, "no_progress", True) else TerminalProgress()
    try:
        doc, text = cli_player.run(args, bar or null_sink, cancel)
    finally:
        if bar:
            bar.close()
    print(json.dumps(doc, indent=2, default=str) if args.json else text)
    failed = cli_player.failure(args, doc)
    if failed is not None:
        print(f"slipstream: {failed}", file=sys.stderr)
        return 1
    return 0


CANCELLABLE = frozenset({"publish", "promote", "install", "update", "rollback", "verify", "adopt"})
"""The commands that look at the cancel token. Ctrl-C stops any other at once: waiting for
a safe point that a command never checks would leave the player pressing it twice."""


def _install_interrupt(cancel: CancelToken) -> None:
    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print("\nstopping at the next safe point (Ctrl-C again to stop now)…", file=sys.stderr)

    signal.signal(signal.SIGINT, on_interrupt)


def _to_json(report: Any) -> str:
    return json.dumps(report.to_json(), indent=2, default=str)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from core.serve.server import run

            return run(args.repo, args.host, args.port, sys.stdout, verbose=args.verbose)
        if args.command == "demo":
            return run_demo(args)
        show_retries()
        cancel = CancelToken()
        if args.command in CANCELLABLE:
            _install_interrupt(cancel)
        if args.command not in COMMANDS:
            return _run_player(args, cancel)
        run_command, describe = COMMANDS[args.command]
        bar = None if args.no_progress else TerminalProgress()
        sink = bar or null_sink

        def run_it() -> Any:
            if args.command in cli_signing.SIGNED_COMMANDS:
                with cli_signing.signed_writes(args):
                    return run_command(args, sink, cancel)
            return run_command(args, sink, cancel)

        try:
            report = cli_storage.run_on_repo(args, run_it, sink, cancel)
        finally:
            if bar:
                bar.close()
        print(_to_json(report) if args.json else cli_storage.describe(report, describe))
        return 0
    except SlipstreamError as exc:
        print(f"slipstream: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("slipstream: stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``| head``); nothing left to tell it.
        sys.stderr.close()
        return 1
    except Exception as exc:
        # Not a SlipstreamError: a bug of ours. The traceback goes to the log, not at the player.
        from core.cli.crashlog import crash_line

        print(crash_line("slipstream", args.command, exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
