"""Every test of this folder runs on each of the fetcher's wires: ``http.client`` (plain),
the default, libcurl (pycurl), which proxied origins take (and ``SLIPSTREAM_HTTP=curl``
all), and requests, the fallback (``SLIPSTREAM_HTTP=requests``, or no pycurl)."""

from __future__ import annotations

import pytest

from core.net.fetcher import HTTP_ENV, curl_available


@pytest.fixture(autouse=True, params=["plain", "curl", "requests"])
def wire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param in ("plain", "curl") and not curl_available():
        pytest.skip("pycurl cannot be imported here")
    monkeypatch.setenv(HTTP_ENV, request.param)
    return str(request.param)
