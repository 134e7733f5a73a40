"""Typed, bounded access to untrusted JSON objects.

Every reader in :mod:`core.format` goes through :class:`Fields`, so a bad document always
fails the same way: a :class:`FormatError` naming the document and the exact field
(``depot manifest 0f1e…: items[3].chunks[0].size``) and what was wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from core.errors import FormatError, LimitExceededError
from core.format.bounds import BOUNDS, Bounds
from core.format.layout import check_id, check_md5

SHA256 = re.compile(r"[0-9a-f]{64}")
"""A sha256 as manifests write it: 64 lowercase hex digits."""

Limits = Bounds
"""The bounds the readers enforce; every size cap lives in core/format/bounds.py."""
LIMITS = BOUNDS


class Fields:
    """A JSON object being read: ``where`` names it in every error."""

    def __init__(self, data: object, where: str, limits: Limits = LIMITS) -> None:
        if not isinstance(data, dict):
            raise FormatError(f"{where} should be a JSON object, not {_kind(data)}.")
        self.data: dict[str, Any] = data
        self.where = where
        self.limits = limits

    def _fail(self, key: str, message: str) -> FormatError:
        return FormatError(f"{self.where}.{key} {message}.")

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise FormatError(f"{self.where} lacks the required field {key!r}.")
        return self.data[key]

    def text(self, key: str, default: str | None = None) -> str:
        if default is not None and not self.has(key):
            return default
        value = self.raw(key)
        if not isinstance(value, str):
            raise self._fail(key, f"should be a string, not {_kind(value)}")
        if len(value) > self.limits.string_chars:
            raise LimitExceededError(f"{self.where}.{key} is longer than the limit.")
        return value

    def opt_text(self, key: str) -> str | None:
        return self.text(key) if self.has(key) else None

    def integer(self, key: str, lo: int = 0, hi: int = 1 << 62, default: int | None = None) -> int:
        if default is not None and not self.has(key):
            return default
        value = self.raw(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail(key, f"should be an integer, not {_kind(value)}")
        if not lo <= value <= hi:
            raise self._fail(key, f"is {value}, outside the accepted range {lo}..{hi}")
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        if default is not None and not self.has(key):
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self._fail(key, f"should be true or false, not {_kind(value)}")
        return value

    def md5(self, key: str) -> str:
        value = self.text(key)
        try:
            return check_md5(value, f"{self.where}.{key}")
        except FormatError:
            raise self._fail(key, f"is {value!r}, not a 32-digit lowercase hex md5") from None

    def opt_md5(self, key: str) -> str | None:
        return self.md5(key) if self.has(key) else None

    def sha256(self, key: str) -> str | None:
        if not self.has(key):
            return None
        value = self.text(key)
        if not SHA256.fullmatch(value):
            raise self._fail(key, f"is {value!r}, not a 64-digit lowercase hex sha256")
        return value

    def id(self, key: str) -> str:
        value = self.text(key)
        try:
            return check_id(value, f"{self.where}.{key}")
        except FormatError:
            raise self._fail(key, f"is {value!r}, not a string of digits") from None

    def array(self, key: str, cap: int, default: bool = False) -> list[Any]:
        if default and not self.has(key):
            return []
        value = self.raw(key)
        if not isinstance(value, list):
            raise self._fail(key, f"should be a list, not {_kind(value)}")
        if len(value) > cap:
            raise LimitExceededError(f"{self.where}.{key} has {len(value)} entries (limit {cap}).")
        return value

    def texts(self, key: str, cap: int = 1000, default: bool = False) -> tuple[str, ...]:
        values = self.array(key, cap, default)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self._fail(f"{key}[{i}]", f"should be a string, not {_kind(value)}")
        return tuple(values)

    def objects(self, key: str, cap: int, default: bool = False) -> Iterator[Fields]:
        for i, value in enumerate(self.array(key, cap, default)):
            yield Fields(value, f"{self.where}.{key}[{i}]", self.limits)

    def obj(self, key: str) -> Fields:
        return Fields(self.raw(key), f"{self.where}.{key}", self.limits)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "an object"
    )
