"""The right-hand side of the window: the selected game's name and the buttons that act on
it, the progress panel, and its tabs (builds, the running job's files, history with
rollback points, statistics).

The pane builds and fills widgets; what a click does is the window's business, so the
pane has no signals of its own and the window connects to the widgets it exposes.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.trust.names import SIGNED, Signing, short_ids
from gui.files_model import FilesModel
from gui.progress_panel import ProgressPanel
from gui.widgets import button, model_tree, tree

PASSWORD_ENTRY = "\x00password"
"""The branch selector's data for "enter a private branch's password" (no branch name
holds a NUL)."""


class GamePane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        header = self._build_header()
        self.progressPanel = ProgressPanel()
        self.keptLabel = QLabel("")
        self.keptLabel.setObjectName("keptLabel")
        self.keptLabel.setAccessibleName(self.tr("Your files the last update moved aside"))
        self.keptLabel.setWordWrap(True)
        self.keptLabel.hide()
        self.tabs = self._build_tabs()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.progressPanel)
        layout.addWidget(self.keptLabel)
        layout.addWidget(self.tabs, 1)

    def _build_header(self) -> QVBoxLayout:
        self.titleLabel = QLabel(self.tr("No game selected"))
        self.titleLabel.setObjectName("titleLabel")
        self.titleLabel.setAccessibleName(self.tr("Selected game"))
        font = self.titleLabel.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.titleLabel.setFont(font)
        self.updateButton = button(
            "updateButton",
            "update",
            self.tr("&Update"),
            self.tr("Update to the selected build (default: newest)"),
        )
        self.verifyButton = button(
            "verifyButton",
            "verify",
            self.tr("&Verify"),
            self.tr("Check every file and repair broken ones"),
        )
        self.cancelButton = button(
            "cancelButton",
            "cancel",
            self.tr("&Cancel"),
            self.tr("Stop cleanly; the next run resumes"),
        )
        self.playButton = button(
            "playButton",
            "play",
            self.tr("&Play"),
            self.tr("Start the game (its build's launch task)"),
        )
        self.uninstallButton = button(
            "uninstallButton",
            "uninstall",
            self.tr("U&ninstall…"),
            self.tr("Remove the game's files; your saves and other files stay"),
        )
        self.buttonRow = QHBoxLayout()
        for made in (
            self.playButton,
            self.updateButton,
            self.verifyButton,
            self.cancelButton,
            self.uninstallButton,
        ):
            self.buttonRow.addWidget(made)
        self.buttonRow.addStretch(1)
        # The name on a line of its own: beside five buttons it would set the pane's
        # narrowest width and squeeze the games list.
        self.signingLabel = QLabel("")
        self.signingLabel.setObjectName("signingLabel")
        self.signingLabel.setAccessibleName(self.tr("Whether the game's repository is signed"))
        header = QVBoxLayout()
        header.addWidget(self.titleLabel)
        header.addWidget(self.signingLabel)
        header.addLayout(self.buttonRow)
        return header

    def show_signing(self, signing: Signing | None) -> None:
        """Signed (with the root key the install trusts) or unsigned; nothing for no game."""
        if signing is None:
            self.signingLabel.setText("")
            self.signingLabel.setToolTip("")
        elif signing.state == SIGNED:
            keys = short_ids(list(signing.root_key_ids))  # the words of Signing.describe()
            self.signingLabel.setText(self.tr("Repository: signed (root key {0})").format(keys))
            self.signingLabel.setToolTip(
                self.tr(
                    "Every document of this game's repository is checked against the signed "
                    "metadata of the root key named here; tampered, replayed or stale "
                    "documents are refused."
                )
            )
        else:
            self.signingLabel.setText(self.tr("Repository: unsigned"))
            self.signingLabel.setToolTip(
                self.tr(
                    "The repository publishes no signed metadata: its documents are checked "
                    "against their hashes only, which guards against damage, not against a "
                    "mirror that lies."
                )
            )

    def _build_tabs(self) -> QTabWidget:
        self.buildsView = tree(
            "buildsView",
            [
                self.tr("Version"),
                self.tr("Build"),
                self.tr("Branch"),
                self.tr("Published"),
                self.tr("Download"),
            ],
            self.tr("Builds of this game. Select one (older ones too) and press Update."),
            self.tr("Builds"),
        )
        self.filesModel = FilesModel()
        self.filesView = model_tree(
            "filesView", self.tr("Each file of the running job"), self.tr("Files")
        )
        self.filesView.setModel(self.filesModel)
        # Fixed widths: fitting a column to its contents reads every row, which with
        # thousands of files stalls the window on each refresh.
        self.filesView.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.filesView.header().setStretchLastSection(False)
        history = self._build_history_tab()
        tabs = QTabWidget()
        tabs.setObjectName("detailTabs")
        tabs.addTab(self._build_builds_tab(), self.tr("&Builds"))
        tabs.addTab(self.filesView, self.tr("&Files"))
        tabs.addTab(history, self.tr("&History"))
        self.statsView = _stats_view()
        if self.statsView is not None:
            tabs.addTab(self.statsView, self.tr("&Statistics"))
        return tabs

    def _build_builds_tab(self) -> QWidget:
        self.branchSelector = QComboBox()
        self.branchSelector.setObjectName("branchSelector")
        self.branchSelector.setAccessibleName(self.tr("Branch"))
        self.branchSelector.setToolTip(
            self.tr(
                "The branch the game follows; choosing another moves it to that branch's "
                "newest build."
            )
        )
        label = QLabel(self.tr("B&ranch:"))
        label.setBuddy(self.branchSelector)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.branchSelector)
        row.addStretch(1)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(row)
        layout.addWidget(self.buildsView, 1)
        return tab

    def show_branches(
        self, branches: list[str | None], current: str | None, passwords: bool = False
    ) -> None:
        """Offer ``branches`` (None: the default one), ``current`` chosen; with
        ``passwords`` (a GOG game) also an entry that asks for a private branch's
        password (its data is :data:`PASSWORD_ENTRY`)."""
        self.branchSelector.blockSignals(True)
        self.branchSelector.clear()
        for branch in dict.fromkeys([None, current, *branches]):
            self.branchSelector.addItem(branch or self.tr("default"), branch)
        if passwords:
            self.branchSelector.insertSeparator(self.branchSelector.count())
            self.branchSelector.addItem(self.tr("Private branch (password)…"), PASSWORD_ENTRY)
        self.branchSelector.setCurrentIndex(self.branchSelector.findData(current))
        self.branchSelector.blockSignals(False)

    def _build_history_tab(self) -> QWidget:
        self.historyView = tree(
            "historyView",
            [
                self.tr("When"),
                self.tr("Operation"),
                self.tr("Result"),
                self.tr("Downloaded"),
                self.tr("Saved"),
                self.tr("Fallbacks"),
                self.tr("Rollback"),
            ],
            self.tr("Every operation on this game. Select an update and press Roll back."),
            self.tr("History"),
        )
        self.pointsView = tree(
            "pointsView",
            [self.tr("Kept since"), self.tr("Restores"), self.tr("Content")],
            self.tr("Rollback points on disk: restoring one needs no download."),
            self.tr("Rollback points"),
        )
        self.rollbackButton = button(
            "rollbackButton",
            "rollback",
            self.tr("&Roll back"),
            self.tr("Go back to the build before it"),
        )
        history = QWidget()
        layout = QVBoxLayout(history)
        layout.addWidget(self.historyView, 3)
        points_label = QLabel(self.tr("Rollback points &kept on disk:"))
        points_label.setBuddy(self.pointsView)
        layout.addWidget(points_label)
        layout.addWidget(self.pointsView, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.rollbackButton)
        layout.addLayout(row)
        return history

    def show_kept(self, paths: list[str], folder: str) -> None:
        """Name the player's own files an update moved to ``folder`` (kept/)."""
        if not paths:
            self.keptLabel.hide()
            return
        shown = ", ".join(paths[:8]) + ("…" if len(paths) > 8 else "")
        self.keptLabel.setText(
            self.tr(
                "The update shipped %n file(s) you already had ({0}); "
                "your copies were moved to {1}.",
                None,
                len(paths),
            ).format(shown, folder)
        )
        self.keptLabel.setToolTip("\n".join(paths))
        self.keptLabel.show()


def _stats_view() -> QWidget | None:
    try:
        from gui.charts import StatsView
    except ImportError:  # pragma: no cover - the charts module ships with the window
        return None
    view = StatsView()
    view.setObjectName("statsView")
    view.setAccessibleName(QCoreApplication.translate("GamePane", "Statistics"))
    return view
