"""The GOG login dialog (``loginDialog``): the same flow as ``slipstream login``.

It shows GOG's login address (and opens it in the browser on request), takes the code or
the whole address the browser ended on, and exchanges it for tokens on a worker thread;
the tokens go to the system keyring (core.gog.auth), never through the GUI. Errors are
shown in the dialog as a sentence. The window calls ``LoginDialog(parent).exec()`` and
reads :meth:`LoginDialog.user`, or listens to ``logged_in``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.errors import SlipstreamError
from core.gog import auth
from core.progress import CancelToken, ProgressSink
from gui.jobs import Job, Work


def logged_in_user() -> str | None:
    """Who is logged in to GOG (from the keyring, no network), or ``None``."""
    return auth.logged_in_user()


def _login(pasted: str) -> Work:
    """The job's body: exchange the pasted code and store the tokens; the account name."""

    def run(sink: ProgressSink, cancel: CancelToken) -> str:
        return auth.login(pasted).display_name

    return run


class LoginDialog(QDialog):
    """Log in to GOG (or out).

    Signals: ``logged_in(str)`` with the account's name, ``logged_out()``.
    """

    logged_in = Signal(str)
    logged_out = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("loginDialog")
        self.setWindowTitle(self.tr("Log in to GOG"))
        self._open_url = open_url
        self._job: Job | None = None
        self._user = logged_in_user()
        self._url = auth.login_url()
        self._build()
        self._show_user()

    # --- building ----------------------------------------------------------------------

    def _build(self) -> None:
        steps = QLabel(
            self.tr(
                "1. Open GOG's login page and log in.\n"
                "2. The browser ends on a blank page: copy its whole address "
                "(it contains “code=”) and paste it below."
            ),
            self,
        )
        steps.setWordWrap(True)
        self._url_edit = QLineEdit(self._url, self)
        self._url_edit.setObjectName("loginUrlEdit")
        self._url_edit.setReadOnly(True)
        self._open_button = QPushButton(self.tr("Open in browser"), self)
        self._open_button.setObjectName("openBrowserButton")
        self._open_button.clicked.connect(self._on_open_button_clicked)
        self._code_edit = QLineEdit(self)
        self._code_edit.setObjectName("codeEdit")
        self._code_edit.setPlaceholderText(
            self.tr("https://embed.gog.com/on_login_success?origin=client&code=…")
        )
        self._code_edit.returnPressed.connect(self._on_code_edit_return_pressed)
        self._error = QLabel(self)
        self._error.setObjectName("errorLabel")
        self._error.setWordWrap(True)
        self._error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._error.hide()
        self._user_label = QLabel(self)
        self._user_label.setObjectName("loginUserLabel")
        self._login_button = QPushButton(self.tr("Log in"), self)
        self._login_button.setObjectName("loginButton")
        self._login_button.setDefault(True)
        self._login_button.clicked.connect(self._on_login_button_clicked)
        self._logout_button = QPushButton(self.tr("Log out"), self)
        self._logout_button.setObjectName("logoutButton")
        self._logout_button.clicked.connect(self._on_logout_button_clicked)
        self._buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self._buttons.rejected.connect(self.reject)

        url_row = QHBoxLayout()
        url_row.addWidget(self._url_edit, 1)
        url_row.addWidget(self._open_button)
        actions = QHBoxLayout()
        actions.addWidget(self._user_label, 1)
        actions.addWidget(self._logout_button)
        actions.addWidget(self._login_button)
        layout = QVBoxLayout(self)
        layout.addWidget(steps)
        layout.addLayout(url_row)
        layout.addWidget(self._code_edit)
        layout.addWidget(self._error)
        layout.addLayout(actions)
        layout.addWidget(self._buttons)
        self.setMinimumWidth(560)

    def _show_user(self) -> None:
        if self._user:
            self._user_label.setText(self.tr("Logged in as %1").replace("%1", self._user))
        else:
            self._user_label.setText(self.tr("Not logged in"))
        self._logout_button.setEnabled(self._user is not None and self._job is None)

    def _show_error(self, message: str) -> None:
        self._error.setText(message)
        self._error.show()

    # --- public ------------------------------------------------------------------------

    def user(self) -> str | None:
        """The logged-in account's name, or ``None``."""
        return self._user

    def login_url(self) -> str:
        return self._url

    def busy(self) -> bool:
        return self._job is not None

    # --- slots -------------------------------------------------------------------------

    @Slot()
    def _on_open_button_clicked(self) -> None:
        if not self._open_url(QUrl(self._url)):
            self._show_error(
                self.tr("No browser could be opened: copy the address above into one.")
            )

    @Slot()
    def _on_code_edit_return_pressed(self) -> None:
        self._on_login_button_clicked()

    def _on_login_button_clicked(self) -> None:
        if self._job is not None:
            return
        pasted = self._code_edit.text()
        try:
            auth.parse_code(pasted)
        except SlipstreamError as exc:
            self._show_error(exc.detail or str(exc))
            return
        self._error.hide()
        self._set_busy(True)
        self._job = Job("login", "login", _login(pasted))
        self._job.succeeded.connect(self._on_job_succeeded)
        self._job.failed.connect(self._on_job_failed)
        self._job.start()

    def _on_job_succeeded(self, name: str) -> None:
        self._job = None
        self._user = name
        self._code_edit.clear()
        self._set_busy(False)
        self.logged_in.emit(name)
        self.accept()

    def _on_job_failed(self, exc: BaseException, _details: str) -> None:
        self._job = None
        self._set_busy(False)
        if isinstance(exc, SlipstreamError):
            self._show_error(str(exc))
        else:  # a bug of ours: a sentence, not a silent thread death
            self._show_error(
                self.tr("Login failed unexpectedly ({error}).").format(error=type(exc).__name__)
            )

    @Slot()
    def _on_logout_button_clicked(self) -> None:
        try:
            auth.delete_tokens()
        except SlipstreamError as exc:
            self._show_error(str(exc))
            return
        self._user = None
        self._show_user()
        self.logged_out.emit()

    def _set_busy(self, busy: bool) -> None:
        self._login_button.setEnabled(not busy)
        self._code_edit.setEnabled(not busy)
        self._login_button.setText(self.tr("Logging in…") if busy else self.tr("Log in"))
        self._show_user()

    # --- closing -----------------------------------------------------------------------

    def done(self, result: int) -> None:
        self._wait_for_worker()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._wait_for_worker()
        super().closeEvent(event)

    def _wait_for_worker(self) -> None:
        """A running exchange finishes (it is bounded by the fetcher's timeouts); its
        result still lands in the keyring, so closing never leaves half a login."""
        if self._job is not None:
            self._job.wait()
