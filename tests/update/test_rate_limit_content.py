"""``--limit-rate`` throttles content, not documents: planning a throttled update reads its
documents at full speed, and every byte the update downloads goes through the limiter
(issue 11). Bytes are counted, not timed."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.demo.sample import FileSpec, scattered_edits
from core.net.fetcher import Fetcher, FetchLimits
from core.progress import CancelToken
from core.update.engine import install, plan_preview, update
from core.update.options import EngineOptions
from tests.support.helpers import serving, tree
from tests.support.simulator import publish_builds

PRODUCT = "1207664643"
pytestmark = pytest.mark.usefixtures("home")


def test_planning_is_untaxed_and_every_downloaded_byte_is_taxed(tmp_path: Path) -> None:
    first = [FileSpec("Game.exe", 1, 1_500_000, executable=True), FileSpec("a.txt", 2, 9_000)]
    second = [scattered_edits(first[0], 3, 4), FileSpec("b.bin", 3, 400_000)]
    repo, folders, _, _ = publish_builds(tmp_path, PRODUCT, [first, second])
    # A rate so high the limiter never sleeps: what matters is what it is asked to count.
    fetcher = Fetcher(FetchLimits(), rate_limit=1e12)
    charged: list[int] = []
    real = fetcher._limiter.take

    def take(n: int, cancel: CancelToken) -> float:
        charged.append(n)
        return real(n, cancel)

    fetcher._limiter.take = take  # type: ignore[method-assign]
    options = EngineOptions(transport=fetcher, patch_jobs=1)
    with serving(repo) as url:
        install(url, PRODUCT, tmp_path / "game", build="1", options=options)
        charged.clear()
        plan, _ = plan_preview(tmp_path / "game", "2", options)
        assert plan.actions and charged == []  # the plan's documents went through untaxed
        report = update(tmp_path / "game", "2", options)
    assert tree(tmp_path / "game") == tree(folders[1])
    assert report.bytes_downloaded > 0 and sum(charged) == report.bytes_downloaded
