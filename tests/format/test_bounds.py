"""Every size cap reads from one frozen dataclass, core/format/bounds.py (issue 10)."""

from __future__ import annotations

import dataclasses

import pytest

from core.format import fields
from core.format.bounds import BOUNDS, Bounds
from core.gamedir import folder
from core.gog import auth
from core.library import settings
from core.net.limits import FetchLimits
from core.serve import endpoints
from core.update import adopt


def test_the_bounds_are_one_frozen_instance() -> None:
    assert Bounds() == BOUNDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        BOUNDS.document_bytes = 1  # type: ignore[misc]


def test_every_layer_reads_its_caps_from_the_bounds() -> None:
    assert fields.LIMITS is BOUNDS and fields.Limits is Bounds
    assert FetchLimits().document_bytes == BOUNDS.document_bytes
    assert BOUNDS.state_bytes == folder.MAX_STATE_BYTES
    assert BOUNDS.listing_bytes == endpoints.MAX_DOCUMENT_BYTES
    assert BOUNDS.token_bytes == auth._TOKEN_BYTES
    assert BOUNDS.settings_bytes == settings.MAX_FILE_BYTES
    assert BOUNDS.info_bytes == adopt.MAX_INFO_BYTES


def test_the_caps_are_what_they_were() -> None:
    # Moving the caps into one place changed none of them.
    assert (BOUNDS.document_bytes, BOUNDS.listing_bytes) == (512 * 2**20, 16 * 2**20)
    assert (BOUNDS.cached_build_bytes, BOUNDS.cached_depot_bytes) == (1 << 28, 1 << 30)
    assert BOUNDS.state_bytes == 1 << 30
    assert (BOUNDS.token_bytes, BOUNDS.settings_bytes, BOUNDS.info_bytes) == (2**16, 2**20, 2**20)
