"""Signing a repository with TUF metadata (docs/signing.md).

``metadata/`` holds ``root.json`` (with every version as ``N.root.json``), ``N.targets.json``,
``N.snapshot.json`` (consistent snapshots: a reader never mixes two states) and
``timestamp.json``, plus unversioned copies of targets and snapshot for the publisher.
Targets pin every signed document by sha256 and length (core/trust/names.py says which).

Every write is atomic and comes after the documents it covers: targets, then snapshot,
then the timestamp, which alone makes a new state visible. All of it runs under the
repository's lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from core.errors import (
    LocalIOError,
    RepositoryError,
    RepositoryLockedError,
    SigningKeysError,
    UnsignedWriteError,
)
from core.format import layout
from core.fs import atomic_write
from core.publish.keys import check_outside, new_key, retire, signers_for
from core.publish.lock import RepoLock
from core.trust.names import MANIFEST_ROOTS, ROLES, ROOT_FILE, is_target, root_key_ids
from core.trust.tuflib import (
    Metadata,
    MetaFile,
    Root,
    Signer,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from core.trust.tuflib import RepositoryError as TufRepositoryError

EXPIRY = {
    "root": timedelta(days=365),
    "targets": timedelta(days=365),
    "snapshot": timedelta(days=365),
    "timestamp": timedelta(days=1),
}
"""How long each role's metadata stays valid once signed; cron refreshes the timestamp."""
RENEW_BEFORE = timedelta(days=30)
"""``timestamp`` re-signs targets and snapshot (and warns about the root) this long
before they expire, so a repository without publishes stays valid."""
KEEP_VERSIONS = 4
"""Versioned targets and snapshot files kept, so a reader mid-refresh still finds its own."""
S = TypeVar("S", Root, Timestamp, Snapshot, Targets)


@dataclass
class SigningReport:
    repo: str
    versions: dict[str, int] = field(default_factory=dict)
    expires: dict[str, str] = field(default_factory=dict)
    root_key_ids: list[str] = field(default_factory=list)
    targets: int = 0
    changed: list[str] = field(default_factory=list)
    """The roles whose metadata this run wrote."""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def metadata_dir(repo_dir: Path) -> Path:
    return repo_dir / layout.METADATA_ROOT


def is_signed(repo_dir: Path) -> bool:
    """Whether the repository publishes signed metadata."""
    return (metadata_dir(repo_dir) / ROOT_FILE).is_file()


def _read(repo_dir: Path, name: str, kind: type[S]) -> Metadata[S]:
    path = metadata_dir(repo_dir) / name
    try:
        md = Metadata[S].from_file(str(path))
    except FileNotFoundError:
        where = f"{layout.METADATA_ROOT}/{name}"
        raise RepositoryError(f"The signed repository lacks {where}.") from None
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read") from None
    except TufRepositoryError as exc:
        raise RepositoryError(f"{path} is not valid TUF metadata ({exc}).") from None
    if not isinstance(md.signed, kind):
        raise RepositoryError(f"{path} holds {md.signed.type} metadata.")
    return md


def _write(repo_dir: Path, name: str, md: Metadata[Any]) -> None:
    try:
        atomic_write(metadata_dir(repo_dir) / name, md.to_bytes())
    except OSError as exc:
        raise LocalIOError.wrap(exc, "write signed metadata") from None


def _sign(
    md: Metadata[Any],
    signers: Sequence[Signer],
    role: str,
    now: datetime,
    expiry: timedelta | None = None,
) -> None:
    """Set the expiry (``EXPIRY[role]`` unless given) and sign with each key once."""
    md.signed.expires = now + (EXPIRY[role] if expiry is None else expiry)
    md.signatures.clear()
    seen = set()
    for signer in signers:
        if signer.public_key.keyid not in seen:
            seen.add(signer.public_key.keyid)
            md.sign(signer, append=True)


def collect_targets(repo_dir: Path, previous: dict[str, TargetFile]) -> dict[str, TargetFile]:
    """Every signed document of the repository with its sha256 and length. A manifest
    already signed keeps its entry (its name is its content's hash), so a publish hashes
    only the documents, not every manifest again."""
    found: dict[str, TargetFile] = {}
    tops = [layout.PRODUCTS_ROOT, *(m.rstrip("/") for m in MANIFEST_ROOTS)]
    try:
        for top in tops:
            for folder, dirs, files in os.walk(repo_dir / top):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    path = Path(folder) / name
                    rel = path.relative_to(repo_dir).as_posix()
                    if not is_target(rel):
                        continue
                    old = previous.get(rel)
                    if old and rel.startswith(MANIFEST_ROOTS) and old.length == path.stat().st_size:
                        found[rel] = old
                    else:
                        found[rel] = TargetFile.from_file(rel, str(path), ["sha256"])
    except OSError as exc:
        raise LocalIOError.wrap(exc, "read a document to sign") from None
    return found


def _drop_old_versions(repo_dir: Path, role: str, current: int) -> None:
    for path in metadata_dir(repo_dir).glob(f"*.{role}.json"):
        version = path.name.split(".", 1)[0]
        if version.isdigit() and int(version) <= current - KEEP_VERSIONS:
            with suppress(OSError):
                path.unlink()


def _publish_targets(
    repo_dir: Path, targets: Metadata[Targets], snapshot: Metadata[Snapshot]
) -> None:
    """Write targets then snapshot, versioned first (what clients read), then the copies."""
    version = targets.signed.version
    _write(repo_dir, f"{version}.targets.json", targets)
    _write(repo_dir, "targets.json", targets)
    _write(repo_dir, f"{snapshot.signed.version}.snapshot.json", snapshot)
    _write(repo_dir, "snapshot.json", snapshot)
    _drop_old_versions(repo_dir, Targets.type, version)
    _drop_old_versions(repo_dir, Snapshot.type, snapshot.signed.version)


def _report(repo_dir: Path, report: SigningReport | None = None) -> SigningReport:
    """What the repository's metadata says now: versions, expiries, root keys, targets."""
    report = report or SigningReport(str(repo_dir))
    root = _read(repo_dir, ROOT_FILE, Root).signed
    targets = _read(repo_dir, "targets.json", Targets).signed
    snapshot = _read(repo_dir, "snapshot.json", Snapshot).signed
    timestamp = _read(repo_dir, "timestamp.json", Timestamp).signed
    report.root_key_ids = root_key_ids(root)
    report.targets = len(targets.targets)
    for signed in (root, targets, snapshot, timestamp):
        report.versions[signed.type] = signed.version
        report.expires[signed.type] = signed.expires.isoformat()
    return report


def _published(repo_dir: Path, targets: Metadata[Targets], snapshot: Metadata[Snapshot]) -> bool:
    """Whether the timestamp names this snapshot and the snapshot these targets (a signing
    interrupted between two of its writes leaves them apart)."""
    timestamp = _read(repo_dir, "timestamp.json", Timestamp).signed
    named = snapshot.signed.meta.get("targets.json")
    return (
        named is not None
        and named.version == targets.signed.version
        and timestamp.snapshot_meta.version == snapshot.signed.version
    )


def sign_repository(
    repo_dir: Path,
    keys_dir: Path,
    *,
    force: bool = False,
    now: datetime | None = None,
    timestamp_expiry: timedelta = EXPIRY["timestamp"],
) -> SigningReport:
    """Sign the repository as it is on disk: new targets (when the documents changed, or
    ``force``), a snapshot naming them and a fresh timestamp. Call it under the lock."""
    now = now or datetime.now(UTC)
    root = _read(repo_dir, ROOT_FILE, Root)
    keys = signers_for(keys_dir, root.signed, ("targets", "snapshot", "timestamp"))
    targets = _read(repo_dir, "targets.json", Targets)
    snapshot = _read(repo_dir, "snapshot.json", Snapshot)
    documents = collect_targets(repo_dir, targets.signed.targets)
    report = SigningReport(str(repo_dir))
    unchanged = documents == targets.signed.targets
    if unchanged and not force and _published(repo_dir, targets, snapshot):
        return _report(repo_dir, report)
    targets.signed.targets = documents
    targets.signed.version += 1
    _sign(targets, keys["targets"], "targets", now)
    snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
    snapshot.signed.version += 1
    _sign(snapshot, keys["snapshot"], "snapshot", now)
    _publish_targets(repo_dir, targets, snapshot)
    _stamp(repo_dir, keys["timestamp"], snapshot.signed.version, timestamp_expiry, now)
    report.changed = ["targets", "snapshot", "timestamp"]
    return _report(repo_dir, report)


def _stamp(
    repo_dir: Path,
    signers: Sequence[Signer],
    snapshot_version: int,
    expiry: timedelta,
    now: datetime,
) -> None:
    timestamp = _read(repo_dir, "timestamp.json", Timestamp)
    timestamp.signed.snapshot_meta = MetaFile(version=snapshot_version)
    timestamp.signed.version += 1
    _sign(timestamp, signers, "timestamp", now, expiry)
    _write(repo_dir, "timestamp.json", timestamp)


def refresh_timestamp(
    repo_dir: Path,
    keys_dir: Path,
    expires_in: timedelta = EXPIRY["timestamp"],
    now: datetime | None = None,
) -> SigningReport:
    """``slipstream timestamp``: a new timestamp for the current snapshot (run by cron).

    Targets and snapshot due to expire within RENEW_BEFORE are signed again too when
    ``keys_dir`` holds their keys; otherwise, and for a root due to expire, the report
    carries a note saying what to run."""
    now = now or datetime.now(UTC)
    with _signed_repo_lock(repo_dir, keys_dir):
        root = _read(repo_dir, ROOT_FILE, Root).signed
        keys = signers_for(keys_dir, root, ("timestamp",))
        targets = _read(repo_dir, "targets.json", Targets).signed
        snapshot = _read(repo_dir, "snapshot.json", Snapshot).signed
        notes = []
        if root.expires - now < RENEW_BEFORE:
            notes.append(
                f"the root expires {root.expires:%Y-%m-%d}; before then run "
                "slipstream keys rotate --role root with the root key"
            )
        due = min(targets.expires, snapshot.expires)
        if due - now < RENEW_BEFORE:
            try:
                report = sign_repository(
                    repo_dir, keys_dir, force=True, now=now, timestamp_expiry=expires_in
                )
                report.notes = notes
                return report
            except SigningKeysError:
                notes.append(
                    f"targets and snapshot expire {due:%Y-%m-%d}; before then publish, or "
                    "run slipstream timestamp with their keys"
                )
        _stamp(repo_dir, keys["timestamp"], snapshot.version, expires_in, now)
        return _report(repo_dir, SigningReport(str(repo_dir), changed=["timestamp"], notes=notes))


def init_repository(
    repo_dir: Path, keys_dir: Path, threshold: int = 1, now: datetime | None = None
) -> SigningReport:
    """``slipstream keys init``: new keys for the four roles (``threshold`` keys each, all
    needed) and the first signed metadata of the repository."""
    if not 1 <= threshold <= 8:
        raise SigningKeysError("--threshold must be between 1 and 8.")
    check_outside(keys_dir, repo_dir)
    if is_signed(repo_dir):
        raise SigningKeysError(
            f"{repo_dir} is signed already; slipstream keys rotate replaces a role's key."
        )
    now = now or datetime.now(UTC)
    try:
        metadata_dir(repo_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalIOError.wrap(exc, "create the metadata folder") from None
    with RepoLock(layout.RepoLayout(repo_dir).state_dir):
        keys = {role: [new_key(keys_dir, role) for _ in range(threshold)] for role in ROLES}
        root = Metadata(Root(consistent_snapshot=True))
        for role in ROLES:
            for signer in keys[role]:
                root.signed.add_key(signer.public_key, role)
            root.signed.roles[role].threshold = threshold
        _sign(root, keys["root"], "root", now)
        targets = Metadata(Targets())
        targets.signed.targets = collect_targets(repo_dir, {})
        _sign(targets, keys["targets"], "targets", now)
        snapshot = Metadata(Snapshot())
        snapshot.signed.meta["targets.json"] = MetaFile(version=1)
        _sign(snapshot, keys["snapshot"], "snapshot", now)
        _publish_targets(repo_dir, targets, snapshot)
        timestamp = Metadata(Timestamp())
        _sign(timestamp, keys["timestamp"], "timestamp", now)
        _write(repo_dir, "timestamp.json", timestamp)
        _write(repo_dir, "1.root.json", root)
        _write(repo_dir, ROOT_FILE, root)  # last: from here on the repository counts as signed
        return _report(repo_dir, SigningReport(str(repo_dir), changed=list(ROLES)))


def rotate_key(
    repo_dir: Path, keys_dir: Path, role: str, now: datetime | None = None
) -> SigningReport:
    """``slipstream keys rotate``: replace every key of ``role`` by a new one, in a new
    root signed by the root keys (old and new ones, when the root's own keys change), then
    sign targets, snapshot and timestamp again with the keys that now count."""
    if role not in ROLES:
        raise SigningKeysError(f"--role must be one of {', '.join(ROLES)}, not {role!r}.")
    now = now or datetime.now(UTC)
    with _signed_repo_lock(repo_dir, keys_dir):
        root = _read(repo_dir, ROOT_FILE, Root)
        old_root_keys = signers_for(keys_dir, root.signed, ("root",))["root"]
        old_ids = set(root.signed.roles[role].keyids)
        fresh = [new_key(keys_dir, role) for _ in old_ids]
        for keyid in sorted(old_ids):
            root.signed.revoke_key(keyid, role)
        for signer in fresh:
            root.signed.add_key(signer.public_key, role)
        root.signed.version += 1
        new_root_keys = fresh if role == Root.type else old_root_keys
        _sign(root, [*old_root_keys, *new_root_keys], "root", now)
        _write(repo_dir, f"{root.signed.version}.root.json", root)
        _write(repo_dir, ROOT_FILE, root)
        retire(keys_dir, old_ids - set(root.signed.roles[role].keyids))
        report = sign_repository(repo_dir, keys_dir, force=True, now=now)
        report.changed = ["root", *report.changed]
        return report


@contextmanager
def _signed_repo_lock(repo_dir: Path, keys_dir: Path) -> Iterator[None]:
    check_outside(keys_dir, repo_dir)
    if not is_signed(repo_dir):
        raise SigningKeysError(
            f"{repo_dir} is not signed; slipstream keys init --repo {repo_dir} signs it."
        )
    with RepoLock(layout.RepoLayout(repo_dir).state_dir):
        yield


@contextmanager
def resigning(
    repo_dir: Path, keys_dir: Path | None, *, explicit: bool, dry_run: bool = False
) -> Iterator[None]:
    """Around a command that changes the repository's documents (publish, promote,
    prune): refuse to change a signed repository without keys, and sign what it wrote.

    The keys are checked before anything is written. The repository is signed again even
    when the command stopped half-way (what it wrote is on disk either way), except when
    another publisher held the lock. ``explicit``: ``--keys`` given for an unsigned
    repository is a mistake; ``$SLIPSTREAM_KEYS`` then is not."""
    if dry_run:  # writes nothing, so there is nothing to sign or to refuse
        yield
        return
    signed = is_signed(repo_dir)
    if signed and keys_dir is None:
        raise UnsignedWriteError(f"({repo_dir} has {layout.METADATA_ROOT}/{ROOT_FILE}).")
    if not signed:
        if keys_dir is not None and explicit:
            raise SigningKeysError(
                f"{repo_dir} is not signed; run slipstream keys init --repo {repo_dir} "
                f"--keys {keys_dir} first."
            )
        yield
        return
    assert keys_dir is not None
    check_outside(keys_dir, repo_dir)
    root = _read(repo_dir, ROOT_FILE, Root)
    signers_for(keys_dir, root.signed, ("targets", "snapshot", "timestamp"))
    try:
        yield
    except RepositoryLockedError:
        raise
    except BaseException:
        with suppress(Exception), RepoLock(layout.RepoLayout(repo_dir).state_dir):
            sign_repository(repo_dir, keys_dir)
        raise
    with RepoLock(layout.RepoLayout(repo_dir).state_dir):
        sign_repository(repo_dir, keys_dir)
