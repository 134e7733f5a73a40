"""How many requests an update keeps in flight: more for small objects, which cost a round
trip each, never more than the connection pool holds."""

from __future__ import annotations

from core.net.fetcher import POOL_SIZE
from core.update.stage import SMALL_OBJECT_BYTES, in_flight

KIB = 1 << 10


def test_large_objects_use_the_players_download_threads() -> None:
    assert in_flight(4, [10 << 20, 10 << 20, 3 << 20]) == 4
    assert in_flight(4, [SMALL_OBJECT_BYTES] * 3) == 4


def test_small_objects_keep_more_requests_in_flight_up_to_the_pool() -> None:
    assert in_flight(4, [200 * KIB] * 500) == 16
    assert in_flight(2, [3 * KIB, 900 * KIB, 40 << 20]) == 8
    assert in_flight(8, [1 * KIB] * 10) == POOL_SIZE
    assert in_flight(32, [1 * KIB] * 10) == 32  # a player who asked for more keeps it


def test_one_thread_stays_one_request_at_a_time() -> None:
    assert in_flight(1, [1 * KIB] * 100) == 1


def test_no_objects_or_no_threads_still_give_one() -> None:
    assert in_flight(0, []) == 1
    assert in_flight(4, []) == 4
