"""The Add game dialog: a game picked from lists, the folder last.

The player chooses a source (the configured repositories, and ``gog`` when logged in),
then a game from the products it lists (a repository's ``products/index.json``, GOG's
owned games), then a build of it (version, branch, date; the newest build of the
default branch chosen), and last the folder, prefilled with the library folder and the
folder name the publisher chose. A GOG game's private branches appear once their
password is given. An OS or language choice shows only when the product has several.

Every lookup runs as a job on its own thread (the window's :class:`~gui.jobs.JobManager`,
keys starting ``add:``); the dialog shows "Loading…" meanwhile and any failure inline,
with Retry, and stays usable. It opens with ``open()``: no nested event loop.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import SettingsError, SlipstreamError
from core.format.builds import BuildItem
from core.library.settings import GOG_SOURCE, normalize_source
from core.net.fetcher import DEFAULT_LIMITS
from core.update.options import EngineOptions
from core.update.product import BuildDetails, ProductBuilds
from gui import work
from gui.jobs import JobManager

log = logging.getLogger("slipstream.gui")
JOB_PREFIX = "add:"
"""The keys of the dialog's lookups in the window's job manager."""
OS_LABELS = {"windows": "Windows", "osx": "macOS", "linux": "Linux"}
DEFAULT_LANG = "en-US"
LOOKUP_LIMITS = replace(DEFAULT_LIMITS, retries=1, connect_timeout=5.0, read_timeout=15.0)
"""A list the player waits for fails fast: the dialog has a Retry button."""


def this_os() -> str:
    """The OS name builds use for this machine."""
    if sys.platform.startswith("win"):
        return "windows"
    return "osx" if sys.platform == "darwin" else "linux"


def library_folder(installed: Iterable[Path]) -> Path:
    """Where a new game goes by default: the folder most installed games are in, else
    ``~/Games``."""
    parents = Counter(path.parent for path in installed)
    return parents.most_common(1)[0][0] if parents else Path.home() / "Games"


@dataclass(frozen=True)
class InstallChoice:
    """What accepting the dialog installs."""

    source: str
    product: str
    build: str
    os: str
    lang: str
    folder: str
    adopt: bool = False
    password: str | None = None


class AddGameDialog(QDialog):
    """Source, game, build, folder; accepting it means install ``choice()``."""

    def __init__(
        self,
        *,
        sources: list[str],
        jobs: JobManager,
        options: Callable[[], EngineOptions],
        library: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("addGameDialog")
        self.setWindowTitle(self.tr("Add game"))
        self.setAccessibleName(self.tr("Add game"))
        self.jobs = jobs
        self.options = options
        self.library = library
        self._serial = 0
        self._current: dict[str, int] = {}
        """The newest lookup of each step; an older one's answer is dropped."""
        self._retry: Callable[[], None] | None = None
        self._builds: ProductBuilds | None = None
        self._details: BuildDetails | None = None
        self._folder_edited = False
        self._filling = False
        self._closed = False
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_source_row(sources))
        layout.addLayout(self._build_status_row())
        layout.addWidget(self._build_product_list(), 1)
        layout.addLayout(self._build_build_rows())
        layout.addLayout(self._build_folder_rows())
        layout.addWidget(self._build_buttons())
        self.finished.connect(self._on_dialog_finished)
        self.resize(640, 600)
        self._show_private_row(False)
        if sources:
            self.load_products()

    # --- building ----------------------------------------------------------------------

    def _build_source_row(self, sources: list[str]) -> QHBoxLayout:
        self.sourceEdit = QComboBox()
        self.sourceEdit.setObjectName("sourceEdit")
        self.sourceEdit.setEditable(True)
        self.sourceEdit.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.sourceEdit.addItems(sources)
        self.sourceEdit.setAccessibleName(self.tr("Source"))
        self.sourceEdit.setToolTip(
            self.tr(
                "A repository's address (https://…), or gog for the games your GOG account owns."
            )
        )
        self.sourceEdit.activated.connect(self._on_source_edit_activated)
        line = self.sourceEdit.lineEdit()
        assert line is not None  # an editable combo box has one
        line.setAccessibleName(self.tr("Source"))
        line.returnPressed.connect(self._on_source_line_return_pressed)
        self.loadButton = QPushButton(self.tr("Show ga&mes"))
        self.loadButton.setObjectName("loadProductsButton")
        self.loadButton.setAutoDefault(False)
        self.loadButton.setToolTip(self.tr("List the games this source offers."))
        self.loadButton.clicked.connect(self._on_load_button_clicked)
        label = QLabel(self.tr("&Source:"))
        label.setBuddy(self.sourceEdit)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.sourceEdit, 1)
        row.addWidget(self.loadButton)
        return row

    def _build_status_row(self) -> QHBoxLayout:
        self.statusLabel = QLabel("")
        self.statusLabel.setObjectName("statusLabel")
        self.statusLabel.setAccessibleName(self.tr("What the dialog is doing"))
        self.statusLabel.setWordWrap(True)
        self.statusLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retryButton = QPushButton(self.tr("&Retry"))
        self.retryButton.setObjectName("retryButton")
        self.retryButton.setAutoDefault(False)
        self.retryButton.setToolTip(self.tr("Ask the source again."))
        self.retryButton.clicked.connect(self._on_retry_button_clicked)
        self.retryButton.hide()
        row = QHBoxLayout()
        row.addWidget(self.statusLabel, 1)
        row.addWidget(self.retryButton)
        return row

    def _build_product_list(self) -> QWidget:
        self.productList = QListWidget()
        self.productList.setObjectName("productList")
        self.productList.setAccessibleName(self.tr("Games"))
        self.productList.setToolTip(self.tr("The games this source offers. Pick one."))
        self.productList.currentItemChanged.connect(self._on_product_list_current_item_changed)
        self.productIdEdit = QLineEdit()
        self.productIdEdit.setObjectName("productIdEdit")
        self.productIdEdit.setAccessibleName(self.tr("Product id"))
        self.productIdEdit.setPlaceholderText(self.tr("Product id, e.g. 1207664643"))
        self.productIdEdit.setToolTip(
            self.tr("This source lists no games: enter the product id its publisher gave you.")
        )
        self.productIdEdit.returnPressed.connect(self._on_product_id_edit_return_pressed)
        self.productIdEdit.hide()
        label = QLabel(self.tr("&Game:"))
        label.setBuddy(self.productList)
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(label)
        column.addWidget(self.productList, 1)
        column.addWidget(self.productIdEdit)
        return box

    def _build_build_rows(self) -> QVBoxLayout:
        self.osBox = _combo("osBox", self.tr("System"), self.tr("Which system's build to install."))
        self.osBox.activated.connect(self._on_os_box_activated)
        self.osLabel = QLabel(self.tr("S&ystem:"))
        self.osLabel.setBuddy(self.osBox)
        self.buildList = QTreeWidget()
        self.buildList.setObjectName("buildList")
        self.buildList.setAccessibleName(self.tr("Builds"))
        self.buildList.setToolTip(self.tr("The game's builds, newest first; older ones too."))
        self.buildList.setRootIsDecorated(False)
        self.buildList.setHeaderLabels(
            [self.tr("Version"), self.tr("Branch"), self.tr("Published"), self.tr("Build")]
        )
        self.buildList.currentItemChanged.connect(self._on_build_list_current_item_changed)
        builds_label = QLabel(self.tr("&Build:"))
        builds_label.setBuddy(self.buildList)
        column = QVBoxLayout()
        os_row = QHBoxLayout()
        os_row.addWidget(self.osLabel)
        os_row.addWidget(self.osBox)
        os_row.addStretch(1)
        column.addLayout(os_row)
        column.addWidget(builds_label)
        column.addWidget(self.buildList, 1)
        column.addLayout(self._build_private_row())
        return column

    def _build_private_row(self) -> QHBoxLayout:
        self.branchPasswordEdit = QLineEdit()
        self.branchPasswordEdit.setObjectName("branchPasswordEdit")
        self.branchPasswordEdit.setEchoMode(QLineEdit.EchoMode.Password)
        self.branchPasswordEdit.setAccessibleName(self.tr("Branch password"))
        self.branchPasswordEdit.setToolTip(
            self.tr("The password of a private branch (a beta, say) the publisher gave you.")
        )
        self.branchPasswordEdit.returnPressed.connect(self._on_branch_password_return_pressed)
        self.privateButton = QPushButton(self.tr("Show &private branches"))
        self.privateButton.setObjectName("privateBranchesButton")
        self.privateButton.setAutoDefault(False)
        self.privateButton.clicked.connect(self._on_private_button_clicked)
        self.passwordLabel = QLabel(self.tr("Branch pass&word:"))
        self.passwordLabel.setBuddy(self.branchPasswordEdit)
        row = QHBoxLayout()
        row.addWidget(self.passwordLabel)
        row.addWidget(self.branchPasswordEdit, 1)
        row.addWidget(self.privateButton)
        return row

    def _build_folder_rows(self) -> QFormLayout:
        self.langBox = _combo("langBox", self.tr("Language"), self.tr("The language to install."))
        self.langLabel = QLabel(self.tr("&Language:"))
        self.langLabel.setBuddy(self.langBox)
        self.folderEdit = QLineEdit()
        self.folderEdit.setObjectName("folderEdit")
        self.folderEdit.setAccessibleName(self.tr("Folder"))
        self.folderEdit.setToolTip(
            self.tr("An empty folder, or one holding the game's files (see below).")
        )
        self.folderEdit.textChanged.connect(self._on_folder_edit_text_changed)
        browse = QPushButton(self.tr("Br&owse…"))
        browse.setObjectName("browseButton")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._on_browse_clicked)
        row = QHBoxLayout()
        row.addWidget(self.folderEdit, 1)
        row.addWidget(browse)
        self.adoptBox = QCheckBox(self.tr("&Use the game files already in the folder"))
        self.adoptBox.setObjectName("adoptBox")
        self.adoptBox.setAccessibleName(self.tr("Use the game files already in the folder"))
        self.adoptBox.setToolTip(
            self.tr("Keep files that already match the build and download only the rest.")
        )
        folder_label = QLabel(self.tr("&Folder:"))
        folder_label.setBuddy(self.folderEdit)
        form = QFormLayout()
        form.addRow(self.langLabel, self.langBox)
        form.addRow(folder_label, row)
        form.addRow("", self.adoptBox)
        self._show_languages(())
        return form

    def _build_buttons(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        self.problem = QLabel("")
        self.problem.setObjectName("problemLabel")
        self.problem.setAccessibleName(self.tr("What is missing"))
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.installButton = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.installButton.setText(self.tr("&Install"))
        self.installButton.setObjectName("installButton")
        self.installButton.setEnabled(False)
        self.installButton.setDefault(True)  # Enter installs once a build and folder are set
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(self.tr("Cancel"))
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        column.addWidget(self.problem)
        column.addWidget(self.buttons)
        return box

    # --- lookups -----------------------------------------------------------------------

    def source(self) -> str:
        """The source as settings keep it (``gog``, or a URL without a trailing slash);
        what the player typed when it is no source at all."""
        text = self.sourceEdit.currentText().strip()
        try:
            return normalize_source(text)
        except SettingsError:
            return text

    def _lookup_options(self, password: str | None = None) -> EngineOptions:
        options = self.options()
        return replace(options, fetch_limits=LOOKUP_LIMITS, password=password or None)

    def _run(
        self,
        step: str,
        body: work.Work,
        done: Callable[[Any], None],
        retry: Callable[[], None],
        loading: str,
    ) -> None:
        """Start ``body`` as the newest lookup of ``step``; ``done`` gets its result
        unless a newer lookup of the same step started meanwhile."""
        self._serial += 1
        serial = self._current[step] = self._serial
        job = self.jobs.start(f"{JOB_PREFIX}{step}:{serial}", f"add-{step}", body)
        if job is None:  # pragma: no cover - every lookup has a key of its own
            return
        self._show_status(loading)
        job.succeeded.connect(
            lambda result: self._on_job_succeeded(step, serial, done, loading, result)
        )
        job.failed.connect(
            lambda exc, details: self._on_job_failed(step, serial, retry, exc, details)
        )

    def _on_job_succeeded(
        self, step: str, serial: int, done: Callable[[Any], None], loading: str, result: Any
    ) -> None:
        if self._closed or self._current.get(step) != serial:
            return
        if self.statusLabel.text() == loading:
            self._show_status("")  # a note another step left meanwhile stays
        done(result)

    def _on_job_failed(
        self, step: str, serial: int, retry: Callable[[], None], exc: BaseException, details: str
    ) -> None:
        if not isinstance(exc, SlipstreamError):
            log.error("Add game: looking up %s failed: %s\n%s", step, exc, details)
        if self._closed or self._current.get(step) != serial:
            return
        self._show_status(_describe(exc), retry)

    def _show_status(self, text: str, retry: Callable[[], None] | None = None) -> None:
        self.statusLabel.setText(text)
        self._retry = retry
        self.retryButton.setVisible(retry is not None)

    def load_products(self) -> None:
        """Ask the source for its games (off the GUI thread)."""
        source = self.source()
        self._clear_products()
        self._show_private_row(False)
        if not source:
            self._show_status(self.tr("Enter a source first."))
            return
        try:
            normalize_source(source)
        except SettingsError as exc:
            self._show_status(exc.detail)  # what is wrong with the address, before asking
            return
        body = work.products(source, self._lookup_options())
        loading = self.tr("Loading the games of {0}…").format(source)
        self._run("products", body, self._show_products, self.load_products, loading)

    def _clear_products(self) -> None:
        for step in ("builds", "details"):
            self._current.pop(step, None)
        self.productList.clear()
        self.productIdEdit.hide()
        self._show_builds(None)

    def _show_products(self, products: list[tuple[str, str]]) -> None:
        self.productList.blockSignals(True)
        for product, name in products:
            item = QListWidgetItem(name or product)
            item.setData(Qt.ItemDataRole.UserRole, product)
            item.setToolTip(self.tr("Product {0}").format(product))
            self.productList.addItem(item)
        self.productList.blockSignals(False)
        if not products:
            self._show_status(
                self.tr("This source lists no games. Enter a product id below and press Enter.")
            )
            self.productIdEdit.show()

    def product(self) -> str:
        item: QListWidgetItem | None = self.productList.currentItem()
        if item is not None:
            return str(item.data(Qt.ItemDataRole.UserRole))
        return "" if self.productIdEdit.isHidden() else self.productIdEdit.text().strip()

    def load_builds(self, password: str | None = None) -> None:
        """Ask for the chosen game's builds on every system (``password``: with its
        private branches)."""
        product, source = self.product(), self.source()
        self._show_builds(None)
        if not product:
            return
        if not product.isdigit():
            self._show_status(self.tr("A product id is a number, like 1207664643."))
            return
        body = work.product_builds(source, product, self._lookup_options(password))
        loading = self.tr("Loading the builds of {0}…").format(product)

        def again() -> None:
            self.load_builds(password)

        def done(builds: ProductBuilds) -> None:
            self._show_builds(builds)
            if password and _branches(builds) <= {None}:
                self._show_status(self.tr("No private branch opened with that password."))

        self._run("builds", body, done, again, loading)

    def _show_builds(self, builds: ProductBuilds | None) -> None:
        self._builds = builds
        self._current.pop("details", None)
        self.osBox.clear()
        oses = builds.oses() if builds is not None else []
        for os_name in oses:
            self.osBox.addItem(OS_LABELS.get(os_name, os_name), os_name)
        if oses:
            mine = this_os()
            self.osBox.setCurrentIndex(oses.index(mine) if mine in oses else 0)
        for widget in (self.osBox, self.osLabel):
            widget.setVisible(len(oses) > 1)
        if builds is not None:
            private = self.source() == GOG_SOURCE and (
                builds.has_private_branches or bool(self.branchPasswordEdit.text())
            )
            self._show_private_row(private)
        self._fill_build_list()

    def _show_private_row(self, shown: bool) -> None:
        for widget in (self.passwordLabel, self.branchPasswordEdit, self.privateButton):
            widget.setVisible(shown)

    def os_name(self) -> str:
        data = self.osBox.currentData()
        return str(data) if data else this_os()

    def _fill_build_list(self) -> None:
        self.buildList.blockSignals(True)
        self.buildList.clear()
        items = self._builds.builds(self.os_name()) if self._builds is not None else ()
        chosen: QTreeWidgetItem | None = None
        for build in items:
            row = QTreeWidgetItem(_build_columns(build, self.tr("default")))
            row.setData(0, Qt.ItemDataRole.UserRole, build.build_id)
            self.buildList.addTopLevelItem(row)
            if chosen is None and build.branch is None:
                chosen = row
        for column in range(4):
            self.buildList.resizeColumnToContents(column)
        self.buildList.blockSignals(False)
        if chosen is None and self.buildList.topLevelItemCount():
            chosen = self.buildList.topLevelItem(0)
        if chosen is not None:
            self.buildList.setCurrentItem(chosen)
        else:
            self._on_build_list_current_item_changed()

    def build(self) -> str:
        item: QTreeWidgetItem | None = self.buildList.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else ""

    def load_details(self) -> None:
        """Ask for the chosen build's folder name and languages."""
        build, product = self.build(), self.product()
        self._details = None
        self._show_languages(())
        self._refresh_install()
        if not build:
            return
        # No password here: the builds lookup that listed a private build kept it in the
        # keyring, and a second writer of the same entry at once could lose others there.
        body = work.build_details(
            self.source(), product, self.os_name(), build, self._lookup_options()
        )
        loading = self.tr("Reading build {0}…").format(build)
        self._run("details", body, self._show_details, self.load_details, loading)

    def _show_details(self, details: BuildDetails) -> None:
        self._details = details
        self._show_languages(details.languages)
        if not self._folder_edited or not self.folderEdit.text().strip():
            folder = self.library / (details.install_directory or self.product())
            self._filling = True
            self.folderEdit.setText(str(folder))
            self._filling = False
            self._folder_edited = False
        self._refresh_install()

    def _show_languages(self, languages: tuple[str, ...]) -> None:
        self.langBox.clear()
        self.langBox.addItems(list(languages))
        if DEFAULT_LANG in languages:
            self.langBox.setCurrentText(DEFAULT_LANG)
        for widget in (self.langBox, self.langLabel):
            widget.setVisible(len(languages) > 1)

    def lang(self) -> str:
        if self.langBox.count():
            return self.langBox.currentText()
        return DEFAULT_LANG

    # --- slots -------------------------------------------------------------------------

    def _on_source_edit_activated(self, _index: int) -> None:
        self.load_products()

    def _on_source_line_return_pressed(self) -> None:
        self.load_products()

    def _on_load_button_clicked(self) -> None:
        self.load_products()

    def _on_retry_button_clicked(self) -> None:
        if self._retry is not None:
            self._retry()

    def _on_product_list_current_item_changed(self, *_: object) -> None:
        # A password belongs to one game; GOG's source finds one kept for this game itself.
        self.branchPasswordEdit.clear()
        self.load_builds()

    def _on_product_id_edit_return_pressed(self) -> None:
        self.load_builds()

    def _on_os_box_activated(self, _index: int) -> None:
        self._fill_build_list()

    def _on_build_list_current_item_changed(self, *_: object) -> None:
        self.load_details()

    def _on_branch_password_return_pressed(self) -> None:
        self._on_private_button_clicked()

    def _on_private_button_clicked(self) -> None:
        password = self.branchPasswordEdit.text()
        if not password:
            self._show_status(self.tr("Enter the branch's password first."))
            self.branchPasswordEdit.setFocus()
            return
        self.load_builds(password)

    def _on_folder_edit_text_changed(self, _text: str) -> None:
        if not self._filling:
            self._folder_edited = True  # typed, pasted or browsed: never overwritten
        self._refresh_install()

    def _on_browse_clicked(self) -> None:
        dialog = QFileDialog(self, self.tr("Install into"), self.folderEdit.text())
        dialog.setObjectName("folderDialog")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self._on_folder_dialog_file_selected)
        dialog.open()

    def _on_folder_dialog_file_selected(self, chosen: str) -> None:
        if chosen:
            self.folderEdit.setText(chosen)

    def _on_dialog_finished(self, _result: int) -> None:
        self._closed = True

    def _on_buttons_accepted(self) -> None:
        problem = self.problem_text()
        if problem:
            self.problem.setText(problem)
            return
        self.accept()

    # --- accepting ---------------------------------------------------------------------

    def _refresh_install(self) -> None:
        """Install waits for the build's details: its languages decide what is installed."""
        read = self._details is not None and self._details.build_id == self.build()
        self.installButton.setEnabled(read and bool(self.folderEdit.text().strip()))
        self.problem.setText("")

    def problem_text(self) -> str | None:
        """Why the dialog cannot install yet, in a sentence; None when it can."""
        if not self.build():
            return self.tr("Pick a game and one of its builds.")
        text = self.folderEdit.text().strip()
        if not text:
            return self.tr("Choose the folder to install into.")
        folder = Path(text).expanduser()
        if folder.exists() and not folder.is_dir():
            return self.tr("{0} is a file, not a folder.").format(folder)
        if (
            folder.is_dir()
            and not self.adoptBox.isChecked()
            and any(p.name != ".slipstream" for p in folder.iterdir())
        ):
            return self.tr(
                "{0} is not empty. Choose an empty folder, or tick "
                "“Use the game files already in the folder”."
            ).format(folder)
        return None

    def choice(self) -> InstallChoice:
        """What to install where, as the dialog shows it now."""
        return InstallChoice(
            source=self.source(),
            product=self.product(),
            build=self.build(),
            os=self.os_name(),
            lang=self.lang(),
            folder=self.folderEdit.text().strip(),
            adopt=self.adoptBox.isChecked(),
            password=self.branchPasswordEdit.text() or None,
        )


def _branches(builds: ProductBuilds | None) -> set[str | None]:
    if builds is None:
        return set()
    return {item.branch for _, items in builds.by_os for item in items}


def _combo(name: str, accessible: str, tip: str) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    box.setAccessibleName(accessible)
    box.setToolTip(tip)
    return box


def _build_columns(build: BuildItem, default: str) -> list[str]:
    return [
        build.version_name or build.build_id,
        build.branch or default,
        build.date_published[:16].replace("T", " "),
        build.build_id,
    ]


def _describe(exc: BaseException) -> str:
    """A failure as the player reads it inline: a Slipstream error's own sentence, a
    bug's plain one (its traceback is in the log)."""
    if isinstance(exc, SlipstreamError):
        return str(exc)
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.translate(
        "AddGameDialog", "Slipstream ran into an internal error ({0}); try again."
    ).format(type(exc).__name__)
