"""The root an install trusts, kept in ``GAME_DIR/.slipstream/trust/``.

ngclient keeps its trusted metadata there (``root.json`` and ``root_history/``, the last
timestamp, snapshot and targets), which is what lets a later update refuse older metadata.
A publisher may hand out the root ahead (``install --trust-root FILE``): it is checked to
be a self-signed TUF root and written there before the install starts.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import LocalIOError, SigningKeysError
from core.format.paths import RESERVED_DIR
from core.fs import atomic_write
from core.trust.names import ROOT_FILE, SIGNED, UNSIGNED, Signing, root_key_ids
from core.trust.tuflib import Metadata, RepositoryError, Root

PIN_DIR = "trust"
"""The folder below ``.slipstream/`` that holds an install's trusted metadata."""


def is_pinned(folder: Path) -> bool:
    """Whether ``folder`` holds a trusted root (the install's repository is signed)."""
    return (folder / ROOT_FILE).exists()


def parse_root(data: bytes, where: str) -> Root:
    """``data`` as root metadata signed by its own keys, else SigningKeysError."""
    try:
        md = Metadata[Root].from_bytes(data)
        if not isinstance(md.signed, Root):
            raise RepositoryError(f"it holds {md.signed.type} metadata")
        md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    except (RepositoryError, ValueError, KeyError, TypeError) as exc:
        raise SigningKeysError(f"{where} is not a signed TUF root ({exc}).") from None
    return md.signed


def pin_root(folder: Path, root_file: Path) -> None:
    """Trust the root in ``root_file`` for the install whose trust folder is ``folder``."""
    try:
        data = root_file.read_bytes()
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read the trusted root") from None
    parse_root(data, str(root_file))
    try:
        atomic_write(folder / ROOT_FILE, data)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "store the trusted root") from None


def install_signing(game_dir: Path) -> Signing:
    """How the game installed in ``game_dir`` reads its repository (for ``list``); an
    install whose pin cannot be read shows as unsigned rather than failing the listing."""
    try:
        ids = pinned_key_ids(game_dir / RESERVED_DIR / PIN_DIR)
    except (LocalIOError, SigningKeysError):
        ids = None
    return Signing(UNSIGNED) if ids is None else Signing(SIGNED, tuple(ids))


def pinned_key_ids(folder: Path) -> list[str] | None:
    """The root key ids an install trusts, or ``None`` when it trusts no signed root."""
    try:
        data = (folder / ROOT_FILE).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read the trusted root") from None
    return root_key_ids(parse_root(data, str(folder / ROOT_FILE)))


@contextmanager
def browsing_pins(root_file: Path | None) -> Iterator[Path | None]:
    """For ``builds`` and ``info``, which install nothing: a scratch trust folder holding
    ``root_file`` (so the repository must be signed by it), or ``None`` without one."""
    if root_file is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="slipstream-trust-"))
    try:
        pin_root(folder, root_file)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
