"""A signed repository's private keys: one ed25519 key file per key, in a folder that is
never inside the repository (the repository is published; the keys must not be).

Key files are PKCS#8 PEM, written 0600 under ``<role>-<key id>.pem``. Which role a key
serves is read from the root metadata, not from the name, so a folder may hold any keys:
a publishing host needs only the targets, snapshot and timestamp keys, and the root key
can stay offline until a rotation.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from core.errors import LocalIOError, SigningKeysError
from core.fs import atomic_write
from core.trust.names import short_ids
from core.trust.tuflib import CryptoSigner, Root, SSlibKey

KEYS_ENV = "SLIPSTREAM_KEYS"
"""Names the keys folder when ``--keys`` is not given."""


def keys_folder(given: Path | None) -> Path | None:
    """``--keys DIR``, else ``$SLIPSTREAM_KEYS``, else ``None``."""
    if given is not None:
        return given
    env = os.environ.get(KEYS_ENV, "").strip()
    return Path(env) if env else None


def check_outside(keys_dir: Path, repo_dir: Path) -> None:
    """Refuse a keys folder inside the repository (or a repository inside it)."""
    keys, repo = keys_dir.resolve(), repo_dir.resolve()
    if keys.is_relative_to(repo) or repo.is_relative_to(keys):
        raise SigningKeysError(
            f"Keep the keys folder {keys_dir} outside the repository {repo_dir}, "
            "which is published as it is."
        )


def new_key(keys_dir: Path, role: str) -> CryptoSigner:
    """Make an ed25519 key for ``role`` and write it, readable by its owner only."""
    signer = CryptoSigner.generate_ed25519()
    path = keys_dir / f"{role}-{signer.public_key.keyid[:16]}.pem"
    try:
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, signer.private_bytes, mode=0o600)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "write the key") from None
    return signer


def _load(path: Path) -> CryptoSigner:
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read the key") from None
    except (ValueError, TypeError) as exc:
        raise SigningKeysError(f"{path} is not an unencrypted PEM private key ({exc}).") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise SigningKeysError(f"{path} is not an ed25519 key.")
    return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))


def key_files(keys_dir: Path) -> dict[str, Path]:
    """Key id → file, for every key in ``keys_dir``."""
    if not keys_dir.is_dir():
        raise SigningKeysError(f"There is no keys folder at {keys_dir}.")
    return {_load(p).public_key.keyid: p for p in sorted(keys_dir.glob("*.pem"))}


def signers_for(
    keys_dir: Path, root: Root, roles: tuple[str, ...]
) -> dict[str, list[CryptoSigner]]:
    """The keys in ``keys_dir`` that sign each of ``roles``; refused unless each role has
    at least its threshold of keys there."""
    loaded = {keyid: _load(path) for keyid, path in key_files(keys_dir).items()}
    signers: dict[str, list[CryptoSigner]] = {}
    for role in roles:
        wanted = root.roles[role]
        signers[role] = [loaded[k] for k in sorted(wanted.keyids) if k in loaded]
        if len(signers[role]) < wanted.threshold:
            raise SigningKeysError(
                f"{keys_dir} holds {len(signers[role])} of the {wanted.threshold} {role} "
                f"key(s) this repository needs ({short_ids(sorted(wanted.keyids))})."
            )
    return signers


def retire(keys_dir: Path, key_ids: set[str]) -> None:
    """Delete the key files of ``key_ids`` (keys the root no longer lists)."""
    try:
        for keyid, path in key_files(keys_dir).items():
            if keyid in key_ids:
                path.unlink()
    except OSError as exc:
        raise LocalIOError.wrap(exc, "delete a retired key") from None
