"""One error tree for everything a user can meet.

Each class's docstring is the sentence the user sees; ``detail`` adds the specifics
(which file, which field, which URL). Foreign exceptions (OSError, requests,
pyxdelta's ``False``) are wrapped into these at the seam where they happen, so the
CLI and the window only ever catch :class:`SlipstreamError`.
"""

from __future__ import annotations


class SlipstreamError(Exception):
    """Slipstream could not finish the operation."""

    exit_code = 1

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def summary(self) -> str:
        """The class's user-facing sentence (first line of its docstring)."""
        doc = type(self).__doc__ or SlipstreamError.__doc__ or ""
        return doc.strip().splitlines()[0]

    def __str__(self) -> str:
        return f"{self.summary} {self.detail}".strip() if self.detail else self.summary


class UsageError(SlipstreamError):
    """The command was used incorrectly."""

    exit_code = 2


class SettingsError(UsageError):
    """A setting is not valid; change it and try again."""


class CancelledError(SlipstreamError):
    """The operation was cancelled; running it again resumes where it stopped."""

    exit_code = 130


# --- documents -------------------------------------------------------------------------


class FormatError(SlipstreamError):
    """A repository document is malformed and was refused."""


class UnsafePathError(FormatError):
    """A document names a file path that is not safe to write, so it was refused."""


class LimitExceededError(FormatError):
    """A document or object is larger than Slipstream accepts, so it was refused."""


# --- repositories ----------------------------------------------------------------------


class RepositoryError(SlipstreamError):
    """The repository is incomplete or inconsistent."""


class RepositoryLockedError(RepositoryError):
    """Another publisher is writing to this repository; wait for it to finish."""


class BuildNotFoundError(RepositoryError):
    """The requested build is not in the repository."""


class PublishError(SlipstreamError):
    """The build folder cannot be published."""


class StorageError(RepositoryError):
    """The object store could not be used; check the bucket, its address and the credentials."""


class StorageBackendMissingError(UsageError):
    """This storage URL needs a package that is not installed."""


# --- signed repositories (docs/signing.md) ---------------------------------------------


class TrustError(RepositoryError):
    """The repository's signed metadata was refused, so nothing was downloaded or changed."""


class TamperedError(TrustError):
    """A repository document does not match its signature (tampered with on a mirror or on the way), so it was refused and nothing was changed; use the publisher's own address."""  # noqa: E501


class RollbackAttackError(TrustError):
    """The repository offered older signed metadata than this computer has already seen (a rollback attack), so nothing was changed; use an up-to-date mirror or the publisher's address."""  # noqa: E501


class FrozenMetadataError(TrustError):
    """The repository's signed metadata has expired (a freeze attack, or the publisher's timestamp job stopped), so nothing was changed; ask the publisher to run slipstream timestamp."""  # noqa: E501


class MixAndMatchError(TrustError):
    """The repository's signed snapshot and targets do not belong together (a mix-and-match attack), so nothing was changed; use the publisher's own address."""  # noqa: E501


class SigningRemovedError(TrustError):
    """This game's repository is pinned as signed but serves no signed metadata (stripped by a mirror or an attacker), so nothing was changed; use the publisher's own address."""  # noqa: E501


class SigningKeysError(UsageError):
    """The repository's signing keys cannot be used as asked; nothing was written."""


class UnsignedWriteError(SigningKeysError):
    """This repository is signed: pass --keys DIR (or set SLIPSTREAM_KEYS) so the change is signed; nothing was written."""  # noqa: E501


# --- patches ---------------------------------------------------------------------------


class PatchError(SlipstreamError):
    """An xdelta3 patch failed."""


class PatchEncodeError(PatchError):
    """An xdelta3 patch could not be made."""


class PatchDecodeError(PatchError):
    """An xdelta3 patch could not be applied."""


# --- local files -----------------------------------------------------------------------


class LocalIOError(SlipstreamError):
    """A file on this computer could not be read or written."""

    @classmethod
    def wrap(cls, exc: OSError, action: str) -> LocalIOError:
        """Describe ``exc`` as ``action`` failing, naming the file and the OS reason."""
        where = f" {exc.filename}" if exc.filename else ""
        return cls(f"Could not {action}{where}: {exc.strerror or exc}.")


# --- library ---------------------------------------------------------------------------


class LibraryError(SlipstreamError):
    """Slipstream's library database could not be used."""


class AutostartError(LocalIOError):
    """Slipstream could not change whether it starts when you log in."""


class UnknownInstallError(SlipstreamError):
    """This folder is not a game that Slipstream has installed."""


class InsufficientSpaceError(LocalIOError):
    """There is not enough free disk space for the update; nothing was changed."""


# --- downloads -------------------------------------------------------------------------


class DownloadError(SlipstreamError):
    """A download failed."""


class NotFoundError(DownloadError):
    """The server does not have a file that Slipstream asked for."""


class AccessDeniedError(DownloadError):
    """The server refused access; log in again or check the repository's address."""


class NotLoggedInError(AccessDeniedError):
    """You are not logged in to GOG; run slipstream login (or use Login in the window)."""


class LoginError(SlipstreamError):
    """GOG did not accept the login; run slipstream login again."""


class KeyringError(SlipstreamError):
    """The system keyring could not be used; Slipstream keeps GOG tokens nowhere else."""


class HashMismatchError(DownloadError):
    """A downloaded file was damaged: its checksum is wrong."""


# --- installed games -------------------------------------------------------------------


class StateError(SlipstreamError):
    """The game folder's Slipstream state is damaged; Slipstream will not guess what is there."""


class GameLockedError(SlipstreamError):
    """Another Slipstream operation is running on this folder; wait for it to finish."""


class FileConflictError(SlipstreamError):
    """A file or folder in the game folder is in the way of the change, so nothing was changed."""


class NoRollbackError(SlipstreamError):
    """There is no earlier version of this game to go back to."""


class LinkInTheWayError(UnsafePathError):
    """A symbolic link in the game folder is in the way; nothing is written through links."""
