"""A builds list with one malformed item: that item is skipped with a note, the rest is
read (issue 11: one bad build id used to refuse every install from the repository)."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import FormatError
from core.format.builds import parse_builds_listing


def item(build_id: Any, **extra: Any) -> dict[str, Any]:
    return {
        "build_id": build_id,
        "product_id": "1",
        "os": "windows",
        "branch": None,
        "version_name": "1.0",
        "generation": 2,
        "link": "/content-system/v2/meta/ab/cd/abcd",
        **extra,
    }


@pytest.mark.parametrize(
    "bad",
    [item("12a"), item("2", generation="two"), "not an object", item("3", link=None)],
    ids=["build id", "generation", "not an object", "no link"],
)
def test_a_malformed_item_is_skipped_with_a_note(bad: Any) -> None:
    doc = {"total_count": 3, "items": [item("5"), bad, item("4")]}
    listing = parse_builds_listing(doc, "builds list")
    assert [i.build_id for i in listing.items] == ["5", "4"]
    [note] = listing.skipped
    assert note.startswith("Skipped a malformed build in the list: builds list.items[1]")


def test_a_listing_that_is_not_a_listing_is_still_refused() -> None:
    with pytest.raises(FormatError):
        parse_builds_listing({"items": "none"}, "builds list")
