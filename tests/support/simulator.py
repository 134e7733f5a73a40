"""RepositorySimulator: a published repository behind the Transport seam, in memory.

Like python-tuf's ``tests/repository_simulator.py``: the client runs unchanged
(``EngineOptions(transport=simulator)`` or ``RepoSource(simulator.base_url, simulator)``)
while no socket is opened, and every fetch is recorded: which path, which byte range,
how often. The answers are the ones ``slipstream serve`` gives (the dynamic endpoints go
through :func:`core.serve.endpoints.answer` over the same folder), so a test can assert
exactly which documents and objects an operation asked for::

    sim = RepositorySimulator(repo_folder)
    install(sim.base_url, PRODUCT, game, options=EngineOptions(transport=sim))
    assert sim.twice() == []                      # nothing fetched twice
    assert set(sim.objects()) == expected_objects

A test can also damage what a path answers, ``times`` times (a function of the bytes,
say a truncation or a garbled host), and the simulator refuses and records any URL off
its own host (``foreign``), so "never contacted" is something a test can check.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from core.demo.sample import FileSpec, write_build
from core.errors import (
    DownloadError,
    HashMismatchError,
    LimitExceededError,
    NotFoundError,
)
from core.net.limits import FetchLimits
from core.net.transport import Transport, ignore_bytes
from core.progress import NEVER_CANCELLED, CancelToken
from core.publish.publisher import PublishOptions, PublishReport, publish
from core.serve import endpoints

BASE_URL = "https://repo.example"
QUICK = FetchLimits(retries=3, backoff=0.001, backoff_cap=0.002)
"""Retries as in production, but the backoff between them is too short to wait for."""

Damage = Callable[[bytes], bytes]


def truncate(body: bytes) -> bytes:
    """A body cut in half, as a dropped connection without a length leaves it."""
    return body[: len(body) // 2]


@dataclass(frozen=True)
class Fetch:
    """One request the client made."""

    kind: str
    """``document`` (get_bytes), ``object`` (download) or ``range`` (download_range)."""
    path: str
    query: str
    start: int
    """First byte asked for: above 0 for a resumed object or a range."""
    length: int
    """Bytes handed over."""


@dataclass
class _Planned:
    damage: Damage
    times: int | None
    used: int = 0


@dataclass
class RepositorySimulator(Transport):
    """Serves the repository folder ``root`` at ``base_url`` to the client, in memory."""

    root: Path
    base_url: str = BASE_URL
    limits: FetchLimits = QUICK
    fetches: list[Fetch] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    """URLs off ``base_url``'s host that the client asked for (and was refused)."""
    _plans: dict[str, _Planned] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        self.base_url = self.base_url.rstrip("/")

    # --- what the test sees ------------------------------------------------------------

    def damage(self, path: str, damage: Damage = truncate, times: int | None = 1) -> None:
        """Answer ``path`` (a URL path, no query) with ``damage(body)`` the next ``times``
        times (``None``: always)."""
        with self._lock:
            self._plans[path] = _Planned(damage, times)

    def clear(self) -> None:
        """Forget the fetches so far (and the refused foreign URLs)."""
        with self._lock:
            self.fetches.clear()
            self.foreign.clear()

    def paths(self, kind: str | None = None) -> list[str]:
        with self._lock:
            return [f.path for f in self.fetches if kind is None or f.kind == kind]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    def objects(self) -> list[str]:
        """Repository-relative paths of the objects downloaded, in order."""
        return [p.lstrip("/") for p in self.paths("object")]

    def ranges(self) -> list[Fetch]:
        """The range requests made, in order."""
        with self._lock:
            return [f for f in self.fetches if f.kind == "range"]

    def documents(self) -> list[str]:
        return self.paths("document")

    def twice(self) -> list[str]:
        """Every object path downloaded more than once."""
        return sorted(p for p, n in Counter(self.objects()).items() if n > 1)

    # --- Transport ---------------------------------------------------------------------

    def get_bytes(
        self,
        url: str,
        *,
        max_bytes: int,
        what: str,
        headers: dict[str, str] | None = None,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> bytes:
        cancel.raise_if_cancelled()
        path, query = self._split(url, what)
        body = self._answer(path, query, url, what)
        if len(body) > max_bytes:
            raise LimitExceededError(f"{what} at {url} is over {max_bytes} bytes.")
        body = self._damaged(path, body)
        self._record(Fetch("document", path, query, 0, len(body)))
        return body

    def download(
        self,
        url: str,
        dest: Path,
        *,
        size: int,
        md5: str | None = None,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        cancel.raise_if_cancelled()
        path, _ = self._split(url, what)
        data = self._damaged(path, self._static(path, url, what))
        have = dest.stat().st_size if dest.exists() else 0
        start = have if 0 < have < size else 0
        with open(dest, "r+b" if dest.exists() else "wb") as out:
            out.seek(start)
            out.truncate(start)
            out.write(data[start:size])
        self._record(Fetch("object", path, "", start, max(0, min(len(data), size) - start)))
        on_bytes(max(0, min(len(data), size) - start))
        if md5 is not None and hashlib.md5(dest.read_bytes()).hexdigest() != md5:
            dest.unlink()
            raise HashMismatchError(f"{what} from {url} had the wrong md5.")

    def fetch_object(
        self,
        url: str,
        *,
        size: int,
        md5: str | None = None,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
        spill: Path | None = None,
    ) -> bytes:
        """The (possibly damaged) object, as :meth:`download` writes it, but in memory
        (nothing is ever cut short here, so nothing is spilled)."""
        cancel.raise_if_cancelled()
        path, _ = self._split(url, what)
        data = self._damaged(path, self._static(path, url, what))[:size]
        self._record(Fetch("object", path, "", 0, len(data)))
        on_bytes(len(data))
        if md5 is not None and hashlib.md5(data).hexdigest() != md5:
            raise HashMismatchError(f"{what} from {url} had the wrong md5.")
        return data

    def download_range(
        self,
        url: str,
        dest: Path,
        *,
        start: int,
        length: int,
        what: str,
        on_bytes: Callable[[int], None] = ignore_bytes,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> None:
        """Bytes ``start`` to ``start + length`` of the (possibly damaged) object, resumed
        from what ``dest`` holds; a DownloadError when the object ends before the range."""
        cancel.raise_if_cancelled()
        path, _ = self._split(url, what)
        data = self._damaged(path, self._static(path, url, what))
        have = dest.stat().st_size if dest.exists() else 0
        if have == length:
            return  # as the fetcher: nothing left to ask for
        have = have if have < length else 0
        piece = data[start + have : start + length]
        with open(dest, "r+b" if dest.exists() else "wb") as out:
            out.seek(have)
            out.truncate(have)
            out.write(piece)
        self._record(Fetch("range", path, "", start + have, len(piece)))
        on_bytes(len(piece))
        if have + len(piece) < length:
            raise DownloadError(f"Could not download {what} from {url}: the range was cut short.")

    def close(self) -> None:
        """Nothing to release; stays usable, as EngineOptions.transport requires."""

    def __enter__(self) -> RepositorySimulator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- answering ---------------------------------------------------------------------

    def _split(self, url: str, what: str) -> tuple[str, str]:
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            with self._lock:
                self.foreign.append(url)
            raise DownloadError(f"Could not download {what} from {url}: not the simulated host.")
        return unquote(theirs.path), theirs.query

    def _answer(self, path: str, query: str, url: str, what: str) -> bytes:
        segments = [s for s in path.split("/") if s]
        dynamic = endpoints.answer(self.root, segments, query, self.base_url)
        if dynamic is None:
            return self._static(path, url, what)
        if dynamic.status == 404:
            self._record(Fetch("document", path, query, 0, 0))
            raise NotFoundError(f"{what} is not at {url} (HTTP 404).")
        if dynamic.status != 200:
            raise DownloadError(f"Could not download {what} from {url}: HTTP {dynamic.status}.")
        return json.dumps(dynamic.body).encode()

    def _static(self, path: str, url: str, what: str) -> bytes:
        parts = [p for p in path.split("/") if p]
        file = self.root.joinpath(*parts)
        if any(p in ("..", ".") for p in parts) or not file.is_file():
            self._record(Fetch("document", path, "", 0, 0))
            raise NotFoundError(f"{what} is not at {url} (HTTP 404).")
        return file.read_bytes()

    def _damaged(self, path: str, body: bytes) -> bytes:
        with self._lock:
            plan = self._plans.get(path)
            if plan is None or (plan.times is not None and plan.used >= plan.times):
                return body
            plan.used += 1
        return plan.damage(body)

    def _record(self, fetch: Fetch) -> None:
        with self._lock:
            self.fetches.append(fetch)


# --- publishing test repositories --------------------------------------------------------


def store_objects(repo: Path) -> set[str]:
    """Repository-relative paths of every object in the chunk and patch stores."""
    stores = repo / "content-system" / "v2"
    found = set()
    for kind in ("store", "patches/store"):
        base = stores / kind
        if base.is_dir():
            found |= {p.relative_to(repo).as_posix() for p in base.rglob("*") if p.is_file()}
    return found


def publish_builds(
    tmp: Path, product: str, builds: list[list[FileSpec]]
) -> tuple[Path, list[Path], list[set[str]], list[PublishReport]]:
    """Publish ``builds`` one after another into ``tmp/repo``: (the repository, each
    build's folder, the store's objects after each publish, the publish reports)."""
    repo = tmp / "repo"
    folders, stores, reports = [], [], []
    for n, specs in enumerate(builds, 1):
        folder = write_build(tmp / f"b{n}", specs)
        reports.append(publish(folder, repo, PublishOptions(product, version_name=f"1.{n}")))
        folders.append(folder)
        stores.append(store_objects(repo))
    return repo, folders, stores, reports
