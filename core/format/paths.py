"""Validation of the file paths that manifests name.

Everything a server sends is untrusted. A manifest path is accepted only if, on every
operating system, it names a file strictly inside the game folder, cannot be confused
with another name, and does not touch Slipstream's own ``.slipstream`` folder. Paths are
never rewritten to make them safe: a bad one rejects the whole document.

These are pure functions over strings; the filesystem is never consulted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from core.errors import UnsafePathError

MAX_PATH_CHARS = 1024
MAX_COMPONENT_CHARS = 255
RESERVED_DIR = ".slipstream"

_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"COM{i}" for i in "123456789¹²³"]
    + [f"LPT{i}" for i in "123456789¹²³"]
)
# Characters Windows refuses in names, plus every control character.
_FORBIDDEN = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
# 8.3 short names ("GAME~1.EXE") alias other files on Windows.
_SHORT_NAME = re.compile(r"[^~.]{1,6}~[0-9]+(\.[^.]{0,3})?", re.IGNORECASE)


_VALID: dict[str, str] = {}
"""Paths that passed :func:`validate`, raw -> validated: an update checked each of its
2,000 paths eight times or more (the fetched and the cached manifests, the install state,
staging, the journal), 0.2 s of its main thread. The rules are a pure function of the
string, so a path checked once is checked for good; only passes are kept."""
_VALID_MAX = 1 << 18


def validate(raw: object, what: str = "path") -> str:
    """Return the manifest path ``raw`` as a ``/``-separated relative path, or raise.

    Backslashes (GOG's separator) become ``/`` once; then every rule applies to the result.
    """
    if type(raw) is str:
        known = _VALID.get(raw)
        if known is not None:
            return known
        path = _validate(raw, what)
        if len(_VALID) >= _VALID_MAX:
            _VALID.clear()
        _VALID[raw] = path
        return path
    return _validate(raw, what)


def _validate(raw: object, what: str) -> str:
    if not isinstance(raw, str):
        raise UnsafePathError(f"The {what} {raw!r} is not a string.")
    if not raw:
        raise UnsafePathError(f"A {what} is empty.")
    if len(raw) > MAX_PATH_CHARS:
        raise UnsafePathError(
            f"The {what} {raw[:60]!r}… is longer than {MAX_PATH_CHARS} characters."
        )
    path = raw.replace("\\", "/")
    if path.startswith("/"):
        raise UnsafePathError(f"The {what} {raw!r} is absolute.")
    if len(path) >= 2 and path[1] == ":":
        raise UnsafePathError(f"The {what} {raw!r} starts with a drive letter.")
    parts = path.split("/")
    for part in parts:
        _check_component(part, raw, what)
    if parts[0].casefold() == RESERVED_DIR:
        raise UnsafePathError(
            f"The {what} {raw!r} points into Slipstream's own {RESERVED_DIR} folder."
        )
    return path


def _check_component(part: str, raw: str, what: str) -> None:
    def bad(reason: str) -> UnsafePathError:
        return UnsafePathError(f"The {what} {raw!r} {reason}.")

    if part in ("", ".", ".."):
        raise bad("has an empty, '.' or '..' segment")
    if len(part) > MAX_COMPONENT_CHARS:
        raise bad(f"has a name longer than {MAX_COMPONENT_CHARS} characters")
    if _FORBIDDEN.search(part):
        raise bad('contains a character Windows forbids (control characters or <>:"|?*)')
    if part[-1] in ". ":
        raise bad("has a name ending in a dot or space, which Windows silently strips")
    stem = part.split(".", 1)[0].rstrip(" ").upper()
    if stem in _WINDOWS_DEVICES:
        raise bad(f"uses the reserved Windows device name {stem}")
    if _SHORT_NAME.fullmatch(part):
        raise bad("looks like a Windows 8.3 short name, which can alias another file")


def collision_key(path: str) -> str:
    """The key under which two paths name the same file on a case-insensitive filesystem."""
    return unicodedata.normalize("NFC", path).casefold()


def check_unique(files: Iterable[str], folders: Iterable[str] = (), what: str = "path") -> None:
    """Raise if two entries collide after case folding and Unicode normalisation, or if a
    file is also used as a folder (``a`` as a file beside ``a/b``)."""
    seen: dict[str, str] = {}
    file_keys: set[str] = set()
    for path, is_file in [(f, True) for f in files] + [(d, False) for d in folders]:
        key = collision_key(path)
        if key in seen:
            if seen[key] == path:
                raise UnsafePathError(f"The {what} {path!r} is listed twice.")
            raise UnsafePathError(
                f"The {what}s {seen[key]!r} and {path!r} name the same entry on "
                "case-insensitive systems."
            )
        seen[key] = path
        if is_file:
            file_keys.add(key)
    for key, path in seen.items():
        parent = key.rpartition("/")[0]
        while parent:
            if parent in file_keys:
                raise UnsafePathError(
                    f"The {what} {seen[parent]!r} is a file but {path!r} uses it as a folder."
                )
            parent = parent.rpartition("/")[0]


def to_galaxy(path: str) -> str:
    """A validated ``/`` path in the ``\\`` form that game depot manifests use."""
    return path.replace("/", "\\")
