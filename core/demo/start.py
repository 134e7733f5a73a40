"""The built-in demo: a sample game with three builds, published and served on loopback.

``slipstream demo`` (and the README's run command) prepares the demo repository once
under ``--dir`` and serves it, so a player can try an update straight away.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

from core.demo.art import write_demo_art
from core.demo.sample import sample_game, write_build
from core.errors import LocalIOError
from core.format import layout
from core.progress import ProgressSink, null_sink
from core.publish.catalog import Catalog
from core.publish.lock import RepoLock
from core.publish.product import check_options, current_info, write_product
from core.publish.publisher import PublishOptions, publish

DEMO_PRODUCT = "1207664643"
DEMO_NAME = "Slipstream Demo Quest"
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")


def prepare_demo(root: Path, progress: ProgressSink = null_sink) -> Path:
    """Publish the demo game's builds into ``root/repo``, those not published yet (so an
    interrupted preparation carries on where it stopped); return the repository."""
    repo = root / "repo"
    listing = Catalog(layout.RepoLayout(repo), DEMO_PRODUCT).listing("windows")
    published = {item.version_name for item in listing.items}
    builds = root / "builds"
    for version, specs in zip(VERSIONS, sample_game(), strict=True):
        if version in published:
            continue
        folder = builds / version
        try:
            if folder.exists():
                shutil.rmtree(folder)
            write_build(folder, specs, folders=["saves"])
        except OSError as exc:
            raise LocalIOError.wrap(exc, "write the demo's sample build in") from None
        options = PublishOptions(DEMO_PRODUCT, version_name=version, name=DEMO_NAME)
        publish(folder, repo, options, progress=progress)
    _add_art(root, repo)
    return repo


def _add_art(root: Path, repo: Path) -> None:
    """Give the demo its icon and cover (a demo prepared by an older Slipstream too), so
    the window's library shows art from the first run."""
    catalog = Catalog(layout.RepoLayout(repo), DEMO_PRODUCT)
    info = current_info(catalog)
    if info is not None and info.icon is not None and info.cover is not None:
        return
    icon, cover = write_demo_art(root / "art")
    with RepoLock(catalog.repo.state_dir):
        write_product(catalog, "windows", DEMO_NAME, check_options(None, icon, cover, set()))


def install_demo_game(root: Path, url: str, progress: ProgressSink = null_sink) -> tuple[Path, str]:
    """Install the oldest demo build into ``root/game`` (once), ready to be updated.

    The server's port changes from run to run, so an existing demo install is pointed
    at this run's address, in its folder and in the library alike (else every check of
    the window would fail with "could not connect")."""
    from core.gamedir.folder import GameDir
    from core.update.engine import install
    from core.update.manage import set_source

    game = root / "game"
    state = GameDir(game).load_state() if game.exists() else None
    if state is None:
        report = install(url, DEMO_PRODUCT, game, build="1", progress=progress)
        return game, report.version_name
    if state.source != url:
        set_source(game, url)
    return game, state.version_name


@dataclass
class RunningDemo:
    """The demo repository being served, and the demo game installed from it."""

    repo: Path
    url: str
    game: Path
    version: str
    server: ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_demo(
    root: Path, host: str = "127.0.0.1", port: int = 0, progress: ProgressSink = null_sink
) -> RunningDemo:
    """Publish the demo (once), serve it on ``host:port`` in a daemon thread and install
    its oldest build (once): what ``slipstream demo``, ``slipstream-gui --demo`` and the
    window's self-test all start from."""
    from core.serve.server import make_server

    repo = prepare_demo(root, progress)
    server = make_server(repo, host, port)
    url = f"http://{host}:{server.socket.getsockname()[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="demo-server")
    thread.start()
    try:
        game, version = install_demo_game(root, url, progress)
    except BaseException:
        server.shutdown()
        server.server_close()
        raise
    return RunningDemo(repo, url, game, version, server, thread)
