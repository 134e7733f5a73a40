"""What going to each build would cost, for the window's builds list.

Unlike :func:`core.update.engine.plan_preview` this takes no lock and reads nothing but the
install state, the cached manifests and the repository: it runs beside an update of the
same game without getting in its way. It assumes the installed files are unchanged (a
modified file costs its full download, which the real plan accounts for).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import CancelledError, SlipstreamError
from core.format.builds import BuildItem
from core.gog.source import open_source
from core.progress import NEVER_CANCELLED, CancelToken
from core.update.engine import existing_game, make_plan, not_installed, pins_of
from core.update.options import EngineOptions
from core.update.plan import PlanKind
from core.update.target import cached_files, fetch_target


@dataclass(frozen=True)
class Cost:
    """Going from the installed build to ``build_id``."""

    build_id: str
    download_bytes: int
    full_bytes: int
    patched_files: int
    changed_files: int


def estimate_costs(
    game_dir: Path,
    items: Iterable[BuildItem],
    options: EngineOptions | None = None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, Cost | SlipstreamError]:
    """Build id → its cost, or the error that kept it from being known. The installed
    build and generation-1 builds are left out."""
    options = options or EngineOptions()
    game = existing_game(game_dir)
    state = game.read_state()
    if state is None:
        raise not_installed(game_dir)
    old = cached_files(game, state)
    costs: dict[str, Cost | SlipstreamError] = {}
    with options.fetcher(cancel) as fetcher:
        source = open_source(state.source, fetcher, options.password, pins_of(game))
        for item in items:
            cancel.raise_if_cancelled()
            if item.build_id == state.build_id or item.generation != 2:
                continue
            try:
                target = fetch_target(source, item, state.lang, state.dlcs)
                plan = make_plan(game, state, state, old, target, source, options, {})
            except CancelledError:
                raise
            except SlipstreamError as exc:
                costs[item.build_id] = exc
                continue
            counts = plan.counts()
            changed = sum(n for kind, n in counts.items() if kind != PlanKind.UNCHANGED)
            costs[item.build_id] = Cost(
                item.build_id,
                plan.download_bytes,
                plan.full_bytes,
                counts.get(PlanKind.PATCHED, 0) + counts.get(PlanKind.PACKED, 0),
                changed,
            )
    return costs
