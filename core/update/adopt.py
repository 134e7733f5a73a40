"""Taking over a game that GOG Galaxy (or GOG's installer) put on disk.

GOG leaves ``goggame-<product>.info`` files in the game folder (reference §7): one per
product, the base game's with ``gameId == rootGameId``; on macOS builds they sit in
``Contents/Resources`` (gen-1 ones as dotfiles). The build comes from the ``.info``'s
``buildId``, else from ``goggame-<product>.id``. :func:`adopt` reads them, fetches that
build's manifests from GOG, checks every file, keeps those that match (fetching the
others) and registers the game, which then updates and rolls back like any other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import UnknownInstallError, UsageError
from core.format.bounds import BOUNDS
from core.gog.source import GOG
from core.progress import NEVER_CANCELLED, CancelToken, ProgressSink, null_sink
from core.update.engine import install
from core.update.options import EngineOptions
from core.update.report import OperationReport

INFO_NAME = re.compile(r"\.?goggame-([0-9]{1,20})\.info")
MAX_INFO_BYTES = BOUNDS.info_bytes
MAC_RESOURCES = ("Contents", "Resources")

LANGUAGE_CODES = {
    "english": "en-US",
    "german": "de-DE",
    "french": "fr-FR",
    "spanish": "es-ES",
    "italian": "it-IT",
    "polish": "pl-PL",
    "russian": "ru-RU",
    "portuguese": "pt-PT",
    "brazilian": "pt-BR",
    "brazilian portuguese": "pt-BR",
    "chinese": "zh-Hans",
    "simplified chinese": "zh-Hans",
    "traditional chinese": "zh-Hant",
    "japanese": "ja-JP",
    "korean": "ko-KR",
    "czech": "cs-CZ",
    "dutch": "nl-NL",
    "hungarian": "hu-HU",
    "turkish": "tr-TR",
    "ukrainian": "uk-UA",
}
"""GOG's language names (``.info`` ``language``) → codes, for files without ``languages``."""


@dataclass(frozen=True)
class GogInstall:
    """What GOG's marker files say about a game folder."""

    product: str
    build_id: str
    name: str
    lang: str
    os: str
    info_file: Path
    dlcs: tuple[str, ...] = ()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as src:
            data = src.read(MAX_INFO_BYTES + 1)
        doc = json.loads(data) if len(data) <= MAX_INFO_BYTES else None
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _info_files(game_dir: Path) -> list[tuple[Path, str, str]]:
    """(file, product, os) of every ``goggame-*.info`` in the places GOG puts them."""
    found = []
    for folder, os_name in ((game_dir, "windows"), (game_dir.joinpath(*MAC_RESOURCES), "osx")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in sorted(folder.iterdir()):
            match = INFO_NAME.fullmatch(entry.name)
            if match and entry.is_file() and not entry.is_symlink():
                found.append((entry, match.group(1), os_name))
    return found


def find_gog_install(game_dir: Path) -> GogInstall:
    """The base game GOG installed in ``game_dir``; UnknownInstallError if none."""
    infos = [
        (path, product, os_name, _read_json(path))
        for path, product, os_name in _info_files(game_dir)
    ]
    readable = [(p, pid, o, doc) for p, pid, o, doc in infos if doc is not None]
    if not readable:
        raise UnknownInstallError(
            f"{game_dir} holds no goggame-*.info file (looked in the folder and in "
            "Contents/Resources), so it is not a game GOG installed."
        )
    base = next(
        (r for r in readable if str(r[3].get("gameId", r[1])) == str(r[3].get("rootGameId", ""))),
        None,
    )
    if base is None:
        raise UnknownInstallError(
            f"{game_dir} holds only DLC info files ({', '.join(r[0].name for r in readable)}); "
            "choose the base game's folder."
        )
    path, product, os_name, doc = base
    build = doc.get("buildId") or (_read_json(path.with_suffix(".id")) or {}).get("buildId")
    if not isinstance(build, str | int) or not str(build).isdigit():
        raise UnknownInstallError(
            f"{path.name} names no build (an offline installer's install): Slipstream cannot "
            "tell which build is there. Install the game with slipstream install instead."
        )
    return GogInstall(
        product=product,
        build_id=str(build),
        name=str(doc.get("name", product)),
        lang=_language(doc),
        os=os_name,
        info_file=path,
        dlcs=tuple(pid for _p, pid, _o, _d in readable if pid != product),
    )


def _language(doc: dict[str, Any]) -> str:
    codes = doc.get("languages")
    if isinstance(codes, list) and codes and isinstance(codes[0], str) and codes[0]:
        return codes[0]
    name = doc.get("language")
    if isinstance(name, str) and name.strip().lower() in LANGUAGE_CODES:
        return LANGUAGE_CODES[name.strip().lower()]
    return "en-US"


def adopt(
    game_dir: Path,
    *,
    options: EngineOptions | None = None,
    progress: ProgressSink = null_sink,
    cancel: CancelToken = NEVER_CANCELLED,
) -> OperationReport:
    """Register the GOG game in ``game_dir``: fetch its build's manifests from GOG, check
    every file, fetch the ones that do not match, and record it in the library."""
    if not game_dir.is_dir():
        raise UsageError(f"{game_dir} is not a folder.")
    found = find_gog_install(game_dir)
    report = install(
        GOG,
        found.product,
        game_dir,
        build=found.build_id,
        os_name=found.os,
        lang=found.lang,
        adopt=True,
        options=options or EngineOptions(),
        progress=progress,
        cancel=cancel,
    )
    report.notes.insert(0, f"Adopted {found.name} (found {found.info_file.name}).")
    if found.dlcs:
        report.notes.append(
            "DLCs found but not managed (Slipstream updates the base game only): "
            + ", ".join(found.dlcs)
        )
    return report
