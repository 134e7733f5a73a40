"""The one door to python-tuf and securesystemslib: every Slipstream module imports their
names from here (ruff's banned-api rule says so).

securesystemslib's signer package imports its AWS KMS signer, which imports ``boto3``
whenever boto3 is installed. A player's install has no boto3 (Slipstream does not depend
on it), but the development environment has (moto, for the object-storage tests), and so
may a publisher's machine with AWS tools: there that import took 0.4-0.5 s of every
``slipstream`` command's and the window's start, for a signer Slipstream never uses (its
keys are files: core/publish/keys.py), and the test suite starts the command hundreds of
times. Here boto3 is hidden while tuf loads, so that signer finds it missing, as on a
player's machine; boto3 itself stays importable for whoever needs it. Loaded after
boto3, tuf sees it as usual.
"""

from __future__ import annotations

import sys

_HIDE = "boto3" not in sys.modules
if _HIDE:
    sys.modules["boto3"] = None  # type: ignore[assignment]  # makes `import boto3` fail
try:
    from securesystemslib.signer import CryptoSigner, Signer, SSlibKey
    from tuf.api import exceptions as tuf_errors
    from tuf.api.exceptions import DownloadHTTPError, RepositoryError
    from tuf.api.metadata import (
        Metadata,
        MetaFile,
        Root,
        Snapshot,
        TargetFile,
        Targets,
        Timestamp,
    )
    from tuf.ngclient import FetcherInterface, Updater
finally:
    if _HIDE and sys.modules.get("boto3", False) is None:
        del sys.modules["boto3"]

__all__ = [
    "CryptoSigner",
    "DownloadHTTPError",
    "FetcherInterface",
    "MetaFile",
    "Metadata",
    "RepositoryError",
    "Root",
    "SSlibKey",
    "Signer",
    "Snapshot",
    "TargetFile",
    "Targets",
    "Timestamp",
    "Updater",
    "tuf_errors",
]
