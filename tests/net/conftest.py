"""Every test of this folder runs on both of the fetcher's wires: libcurl (pycurl), the
default, and requests, the fallback (``SLIPSTREAM_HTTP=requests``, or no pycurl)."""

from __future__ import annotations

import pytest

from core.net.fetcher import HTTP_ENV, curl_available


@pytest.fixture(autouse=True, params=["curl", "requests"])
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "curl" and not curl_available():
        pytest.skip("pycurl cannot be imported here")
    monkeypatch.setenv(HTTP_ENV, request.param)
    return str(request.param)
