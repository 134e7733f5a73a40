"""Cancel tokens: one operation's token joined to each call's own (core/progress.py)."""

from __future__ import annotations

import pytest

from core.errors import CancelledError
from core.progress import NEVER_CANCELLED, CancelToken, either


def test_either_is_cancelled_by_whichever_token_is() -> None:
    for cancelled in (0, 1):
        tokens = [CancelToken(), CancelToken()]
        joined = either(*tokens)
        joined.raise_if_cancelled()
        assert not joined.cancelled
        tokens[cancelled].cancel()
        assert joined.cancelled
        with pytest.raises(CancelledError):
            joined.raise_if_cancelled()


def test_either_with_nothing_to_join_is_the_one_token() -> None:
    token = CancelToken()
    assert either(token, NEVER_CANCELLED) is token
    assert either(NEVER_CANCELLED, token) is token
    assert either(token, token) is token
    assert either(NEVER_CANCELLED, NEVER_CANCELLED) is NEVER_CANCELLED
    with pytest.raises(RuntimeError):
        either(token, CancelToken()).cancel()  # cancel a token it watches instead
