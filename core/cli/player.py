"""The player's half of the ``slipstream`` command: builds, info, install, plan, update,
verify, rollback, history and list (the publisher's half is in core/cli/commands.py)."""

from __future__ import annotations

import argparse
import datetime
import math
from pathlib import Path
from typing import Any

from core.errors import FormatError, SettingsError, UsageError
from core.format import layout
from core.progress import CancelToken, ProgressSink
from core.units import format_bytes, percent_saved

PUBLIC = "public"
"""What ``--branch`` calls the default branch (GOG's ``branch: null``)."""


def _source(value: str) -> str:
    """``--source``: a repository URL, or ``gog`` for GOG's own hosts (as settings keep it)."""
    from core.library.settings import normalize_source

    try:
        return normalize_source(value)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(exc.detail) from None


def _rate(value: str) -> float:
    """``--limit-rate``: a positive, finite number of bytes per second."""
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of bytes per second") from None
    if not math.isfinite(rate) or rate <= 0:
        raise argparse.ArgumentTypeError(
            f"{value} is not a rate: give a positive number of bytes per second"
        )
    return rate


def _product(value: str) -> str:
    try:
        return layout.check_id(value, "the product id")
    except FormatError as exc:
        raise argparse.ArgumentTypeError(exc.detail) from None


def _product_options(parser: argparse.ArgumentParser) -> None:
    """Where a build comes from: --source, --product and --os."""
    parser.add_argument("--source", required=True, type=_source, help="repository URL, or gog")
    parser.add_argument("--product", required=True, type=_product, help="product id (digits)")
    parser.add_argument("--os", default="windows", choices=layout.OS_NAMES)


def _trust_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-root",
        type=Path,
        default=None,
        metavar="FILE",
        help="the repository's root.json from its publisher: refuse anything it did not sign",
    )


def _password(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password",
        default=None,
        help="GOG private branch password (kept in the system keyring for updates)",
    )


def common_options(parser: argparse.ArgumentParser) -> None:
    """--json and --no-progress, which every long command of ``slipstream`` takes."""
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--no-progress", action="store_true", help="draw no progress bar")


def branch_of(value: str) -> str | None:
    """A ``--branch`` value as the format has it: ``None`` for the default branch."""
    return None if value == PUBLIC else value


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit-rate", type=_rate, metavar="BYTES_PER_S", help="bandwidth limit for downloads"
    )
    parser.add_argument("--jobs", type=int, default=4, help="download threads (default 4)")
    parser.add_argument(
        "--keep-points",
        type=int,
        default=2,
        metavar="N",
        help="rollback points to keep on disk (default 2)",
    )


_NO_PACKS = "use GOG's xdelta3 patches only, never the repository's patch packs"


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("builds", help="list the builds a repository offers")
    _product_options(p)
    p.add_argument("--branch", default=None, help=f"only this branch ('{PUBLIC}': the default)")
    _password(p)
    _trust_root(p)
    common_options(p)

    p = sub.add_parser("products", help="list the games a source offers, by name")
    p.add_argument("--source", required=True, type=_source, help="repository URL, or gog")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("info", help="describe a build without installing it")
    _product_options(p)
    p.add_argument("--build", default=None)
    p.add_argument("--lang", default="en-US")
    p.add_argument("--branch", default=PUBLIC)
    _password(p)
    _trust_root(p)
    common_options(p)

    p = sub.add_parser("install", help="install a build into an empty folder")
    _product_options(p)
    p.add_argument("--dir", required=True, type=Path)
    p.add_argument("--build", default=None)
    p.add_argument("--lang", default="en-US")
    p.add_argument("--branch", default=PUBLIC)
    p.add_argument(
        "--adopt",
        action="store_true",
        help="install over files already in the folder, keeping those that match",
    )
    p.add_argument(
        "--dlc",
        action="append",
        default=[],
        metavar="PRODUCT",
        help="also install this DLC (repeat it; 'all' for every DLC of the build)",
    )
    p.add_argument("--no-packs", action="store_true", help=_NO_PACKS)
    _password(p)
    _trust_root(p)
    _engine_options(p)
    common_options(p)

    p = sub.add_parser("plan", help="show what an update would download, without doing it")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--to", default=None, metavar="BUILD")
    p.add_argument("--no-patches", action="store_true")
    p.add_argument("--no-packs", action="store_true", help=_NO_PACKS)
    p.add_argument("--keep-modified", action="store_true")
    common_options(p)

    p = sub.add_parser("update", help="update an installed game")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--to", default=None, metavar="BUILD", help="this build (older ones too)")
    p.add_argument("--no-patches", action="store_true", help="download chunks, never patches")
    p.add_argument("--no-packs", action="store_true", help=_NO_PACKS)
    p.add_argument(
        "--keep-modified", action="store_true", help="leave files you changed (mods) as they are"
    )
    p.add_argument(
        "--branch",
        default=None,
        help=f"move to this branch's newest build and follow it ('{PUBLIC}': the default)",
    )
    _password(p)
    _engine_options(p)
    common_options(p)

    p = sub.add_parser("verify", help="check an installed game's files")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--full", action="store_true", help="hash every file (default: size and date)")
    p.add_argument("--repair", action="store_true", help="download broken files again")
    _engine_options(p)
    common_options(p)

    p = sub.add_parser("rollback", help="go back to an earlier build")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--to", default=None, metavar="BUILD")
    _engine_options(p)
    common_options(p)

    p = sub.add_parser("history", help="the updates of an installed game")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("list", help="the games Slipstream has installed")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "set-source", help="take an installed game's updates from another repository URL"
    )
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("url", type=_source, metavar="URL", help="repository URL, or gog")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("play", help="start an installed game (its build's launch task)")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--show", action="store_true", help="print what would run, run nothing")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "uninstall", help="remove a game's files, keeping your own (saves, mods); asks nothing"
    )
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--json", action="store_true")

    from core.cli import gog as cli_gog

    cli_gog.add_parsers(sub, _engine_options, common_options)


def _options(args: argparse.Namespace) -> Any:
    from core.update.options import EngineOptions

    if args.jobs < 1:
        raise UsageError("--jobs must be at least 1.")
    if args.limit_rate is not None and args.limit_rate <= 0:
        raise UsageError("--limit-rate must be a positive number of bytes per second.")
    if getattr(args, "keep_points", 2) < 0:
        raise UsageError("--keep-points must be 0 or more.")
    return EngineOptions(
        keep_points=getattr(args, "keep_points", 2),
        jobs=args.jobs,
        limit_rate=args.limit_rate,
        use_patches=not getattr(args, "no_patches", False),
        use_packs=not getattr(args, "no_packs", False),
        keep_modified=getattr(args, "keep_modified", False),
        password=getattr(args, "password", None),
    )


def run(args: argparse.Namespace, sink: ProgressSink, cancel: CancelToken) -> tuple[Any, str]:
    """Run a player command; returns (JSON-able document, human text)."""
    from core.update import engine

    command = args.command
    if command in ("builds", "info"):
        return _browse(args)
    if command in ("login", "logout", "adopt"):
        from core.cli import gog as cli_gog

        options = _options(args) if command == "adopt" else None
        doc, text = cli_gog.run(args, options, sink, cancel)
        if text is None:
            return doc.to_json(), describe_operation(doc)
        return doc, text
    if command == "install":
        if args.trust_root is not None:
            _pin_before_install(args.dir, args.trust_root)
        report = engine.install(
            args.source,
            args.product,
            args.dir,
            build=args.build,
            os_name=args.os,
            lang=args.lang,
            branch=branch_of(args.branch),
            adopt=args.adopt,
            dlcs=tuple(args.dlc),
            options=_options(args),
            progress=sink,
            cancel=cancel,
        )
        return report.to_json(), describe_operation(report)
    if command == "update" and args.branch is not None:
        from core.update.manage import switch_branch

        report = switch_branch(
            args.dir,
            branch_of(args.branch),
            args.to,
            _options(args),
            progress=sink,
            cancel=cancel,
        )
        return report.to_json(), describe_operation(report)
    if command == "update":
        report = engine.update(args.dir, args.to, _options(args), progress=sink, cancel=cancel)
        return report.to_json(), describe_operation(report)
    if command == "plan":
        from core.update.options import EngineOptions

        options = EngineOptions(
            use_patches=not args.no_patches,
            use_packs=not args.no_packs,
            keep_modified=args.keep_modified,
        )
        _plan, report = engine.plan_preview(args.dir, args.to, options)
        return report.to_json(), describe_plan(report)
    if command == "rollback":
        report = engine.rollback_game(
            args.dir, args.to, _options(args), progress=sink, cancel=cancel
        )
        return report.to_json(), describe_operation(report)
    if command == "verify":
        report, result = engine.verify_game(
            args.dir,
            full=args.full,
            repair=args.repair,
            options=_options(args),
            progress=sink,
            cancel=cancel,
        )
        return _verify_json(report, result), describe_verify(report, result, args.repair)
    if command == "history":
        return _history(args.dir)
    if command == "products":
        from core.update.product import list_products

        found = list_products(args.source)
        rows = [{"product_id": p, "name": n} for p, n in found]
        return rows, "\n".join(f"{p:<20} {n}" for p, n in found) or "No product list."
    if command == "set-source":
        from core.update.manage import set_source

        state = set_source(args.dir, args.url)
        doc = {"dir": str(args.dir), "product": state.product, "source": state.source}
        return doc, f"{args.dir} now takes its updates from {state.source}."
    if command == "play":
        return _play(args)
    if command == "uninstall":
        from core.update.uninstall import uninstall

        removed = uninstall(args.dir)
        return removed.to_json(), describe_uninstall(removed)
    return _list()


def _pin_before_install(game_dir: Path, root_file: Path) -> None:
    """``install --trust-root``: trust the publisher's root before anything is fetched.
    A folder that already holds a game keeps its pin (install refuses it anyway)."""
    from core.errors import LocalIOError
    from core.gamedir.folder import GameDir
    from core.trust.pins import PIN_DIR, pin_root

    game = GameDir(game_dir)
    if game.state_file.exists():
        return
    try:
        game_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "create the game folder") from None
    pin_root(game.meta_dirs(PIN_DIR), root_file)


def _browse(args: argparse.Namespace) -> tuple[Any, str]:
    from core.gog.source import open_source
    from core.net.fetcher import Fetcher
    from core.trust.pins import browsing_pins
    from core.trust.source import signing_of
    from core.update.target import check_language, open_target

    with Fetcher() as fetcher, browsing_pins(args.trust_root) as pins:
        if args.command == "builds":
            source = open_source(args.source, fetcher, args.password, pins)
            signing = signing_of(source)
            listing = source.listing(args.product, args.os)
            items = [
                i
                for i in listing.items
                if args.branch is None or i.branch == branch_of(args.branch)
            ]
            rows = [{**i.to_json(), **signing.to_json()} for i in items]
            lines = [
                f"{i.version_name or '(no name)':<20} build {i.build_id:<20} "
                f"{i.branch or PUBLIC:<10} {i.date_published[:10]}"
                + ("" if i.generation == 2 else "  (generation 1: not installable)")
                for i in items
            ]
            if listing.total_count > len(listing.items):
                lines.append(
                    f"({len(listing.items)} of {listing.total_count} builds: the server "
                    "lists only the newest)"
                )
            lines += [f"(note: {note})" for note in listing.skipped]
            if listing.has_private_branches and not args.password:
                lines.append("(this game has private branches: --password shows them)")
            if not items:
                lines.insert(0, "No builds.")
            lines.append(f"repository: {signing.describe()}")
            return rows, "\n".join(lines)
        opened = open_target(
            fetcher,
            args.source,
            args.product,
            args.os,
            build=args.build,
            branch=branch_of(args.branch),
            password=args.password,
            pins=pins,
        )
        item = opened.item
        signing = signing_of(opened.source)
        # The build manifest alone says it all; depot manifests can be large.
        manifest = opened.source.build_manifest(item)
    check_language(manifest, args.lang)
    depots = manifest.depots_for(args.lang)
    languages = sorted({lang for d in manifest.depots for lang in d.languages})
    download = sum(d.compressed_size for d in depots)
    disk = sum(d.size for d in depots)
    products = []
    for p in manifest.products:
        own = manifest.depots_for(args.lang, [p.product_id])
        products.append(
            {
                "product_id": p.product_id,
                "name": p.name,
                "dlc": p.product_id != manifest.base_product_id,
                "download_bytes": sum(d.compressed_size for d in own),
                "disk_bytes": sum(d.size for d in own),
            }
        )
    doc = {
        "build_id": item.build_id,
        "version_name": item.version_name,
        "install_directory": manifest.install_directory,
        "products": products,
        "languages": languages,
        "lang": args.lang,
        "download_bytes": download,
        "disk_bytes": disk,
        "dependencies": list(manifest.dependencies),
        **signing.to_json(),
    }
    text = "\n".join(
        [
            f"{manifest.product_name(args.product)} {item.version_name} (build {item.build_id})",
            f"  install folder: {manifest.install_directory}",
            f"  products: {', '.join(p.name for p in manifest.products)}",
            f"  languages: {', '.join(languages)}",
            f"  {args.lang}: download {format_bytes(download)}, on disk {format_bytes(disk)}",
            f"  repository: {signing.describe()}",
        ]
        + (
            [f"  dependencies (listed, not installed): {', '.join(manifest.dependencies)}"]
            if manifest.dependencies
            else []
        )
    )
    return doc, text


def describe_operation(report: Any) -> str:
    lines = []
    if report.recovered:
        lines.append(f"First finished an interrupted operation: {report.recovered}")
    if report.up_to_date:
        lines.append(f"Already up to date: build {report.to_build} ({report.version_name}).")
        return "\n".join(lines)
    verb = {
        "install": "Installed",
        "update": "Updated to",
        "rollback": "Rolled back to",
        "repair": "Repaired",
    }.get(report.kind, report.kind)
    lines.append(
        f"{verb} build {report.to_build} ({report.version_name}) in {report.seconds:.1f} s"
    )
    if report.kind in ("install", "update", "repair") or report.bytes_downloaded:
        lines.append(
            f"  downloaded {format_bytes(report.bytes_downloaded)} instead of "
            f"{format_bytes(report.bytes_full)} "
            f"({percent_saved(report.bytes_downloaded, report.bytes_full):.1f}% saved)"
        )
    if report.counts:
        lines.append("  files: " + ", ".join(f"{v} {k}" for k, v in report.counts.items() if v))
    for path, reason in report.fallbacks:
        lines.append(f"  fell back to a full download for {path}: {reason}")
    lines += [f"  note: {note}" for note in report.notes]
    if report.modified:
        what = "kept as you changed them" if report.kind == "plan" else "you had changed"
        lines.append(
            f"  files {what} (your copies are in the rollback point): " + ", ".join(report.modified)
        )
    if report.kept:
        lines.append(
            f"  your own files that the new build replaced (copies kept in {report.kept_in}): "
            + ", ".join(report.kept)
        )
    return "\n".join(lines)


def describe_plan(report: Any) -> str:
    route = " → ".join(report.route) if report.route else "no patch route"
    return "\n".join(
        [
            f"Update {report.from_build} → {report.to_build} ({report.version_name}): {route}",
            f"  would download {format_bytes(report.bytes_planned)} of "
            f"{format_bytes(report.bytes_full)} "
            f"({percent_saved(report.bytes_planned, report.bytes_full):.1f}% saved)",
            "  files: " + ", ".join(f"{v} {k}" for k, v in report.counts.items() if v),
        ]
        + ([f"  changed by you: {', '.join(report.modified)}"] if report.modified else [])
    )


def _play(args: argparse.Namespace) -> tuple[Any, str]:
    from core.update import launch

    task = launch.find_task(args.dir)
    if task is None:
        raise UsageError(
            f"{args.dir}: its build declares no launch task (publish --launch PATH adds one)."
        )
    doc = task.to_json()
    command = " ".join([str(task.path), *task.arguments])
    if args.show:
        return doc, f"{command}\n  in {task.working_dir}"
    doc["pid"] = launch.play(args.dir).pid
    return doc, f"Started {task.name or task.path.name}: {command}"


def describe_uninstall(report: Any) -> str:
    lines = [
        f"Uninstalled {report.game_dir}: removed {report.files_removed} files "
        f"({format_bytes(report.bytes_freed)})."
    ]
    if report.kept:
        lines.append("  kept your own files: " + ", ".join(report.kept))
    return "\n".join(lines)


def _verify_json(report: Any, result: Any) -> dict[str, Any]:
    doc: dict[str, Any] = report.to_json()
    doc.update(
        checked=result.checked,
        ok=result.ok,
        wounds=[{"path": w.path, "reason": w.reason, "detail": w.detail} for w in result.wounds],
    )
    return doc


def failure(args: argparse.Namespace, doc: Any) -> str | None:
    """Why a command that ran to its end still failed (exit status 1), or None: a verify
    without --repair that found damage, so that scripts can see it."""
    if args.command == "verify" and not args.repair and not doc["ok"]:
        damaged = len(doc["wounds"])
        return (
            f"{damaged} damaged file{'s' if damaged != 1 else ''} in {args.dir}; "
            "slipstream verify --repair downloads them again."
        )
    return None


def describe_verify(report: Any, result: Any, repaired: bool) -> str:
    if result.ok:
        return f"All {result.checked} files are intact."
    lines = [f"{len(result.wounds)} of {result.checked} files are damaged:"]
    lines += [
        f"  {w.path}: {w.reason}{' (' + w.detail + ')' if w.detail else ''}" for w in result.wounds
    ]
    lines.append("Repaired them." if repaired else "Run verify --repair to download them again.")
    return "\n".join(lines)


def _history(game_dir: Path) -> tuple[Any, str]:
    from core.library.db import Library
    from core.update.records import check_library

    check_library(game_dir)  # a damaged library is set aside, the game re-registered
    with Library.open() as library:
        if library.install(game_dir) is None:
            raise UsageError(f"{game_dir} is not a game Slipstream has installed.")
        ops = library.history(game_dir)
    doc = [
        {
            **{k: v for k, v in op.__dict__.items() if k not in ("fallbacks", "files", "phases")},
            "fallbacks": [list(f) for f in op.fallbacks],
            "files": dict(op.files),
            "phases": dict(op.phases),
        }
        for op in ops
    ]
    lines = [
        f"{_when(op.started_at)}  {op.kind:<8} {op.from_build or '-':>6} → {op.to_build or '-':<6} "
        f"{op.outcome:<9} {format_bytes(op.bytes_downloaded):>10} "
        f"of {format_bytes(op.bytes_full):>10}"
        + (f"  {len(op.fallbacks)} fallbacks" if op.fallbacks else "")
        for op in ops
    ]
    return doc, "\n".join(lines) or "No operations yet."


def _list() -> tuple[Any, str]:
    from core.library.db import Library
    from core.trust.pins import install_signing

    with Library.open(set_aside_damage=True) as library:
        installs = library.installs()
        moved = library.set_aside
    rows = [(r, install_signing(r.path)) for r in installs]
    doc = [{**r.__dict__, "path": str(r.path), **s.to_json()} for r, s in rows]
    lines = [
        f"{r.name:<30} {r.version_name:<12} build {r.build_id:<10} {r.status:<14} "
        f"{s.describe():<34} {r.path}"
        for r, s in rows
    ]
    if moved is not None:
        # Games rejoin the new library as soon as any command runs on their folder.
        lines.append(
            f"note: the library database was damaged; it was moved to {moved} and a new one "
            "started. Run slipstream verify DIR on a game to list it again."
        )
    return doc, "\n".join(lines) or "No games installed yet."


def _when(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")
