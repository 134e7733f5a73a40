"""Signed repositories: The Update Framework's metadata, verified through our transport.

A signed repository publishes TUF metadata under ``metadata/`` (docs/signing.md). The
client pins the repository's root on first install and from then on reads every
document through :mod:`tuf.ngclient`, whose fetcher seam is backed by our transport
seam (:class:`core.net.transport.Transport`, the requests Fetcher in production).
Refusals are the typed errors of core/errors.py (``TrustError`` and its subclasses),
raised before anything is downloaded into a game. May import the kernel, ``format`` and
``net``; never the server side.
"""
