"""The settings dialog (``settingsDialog``): sources, download threads, bandwidth limit,
how often to check for updates, how many rollback points to keep, and three switches:
desktop notifications, starting at login (in the tray) and automatic updates.

The dialog edits a copy: :meth:`SettingsDialog.settings` gives the values on screen, and the
caller saves them (``core.library.settings.save_settings``) once the dialog is accepted. Every value
is checked as it changes; while one is invalid an inline message says why and OK is disabled.
"""

from __future__ import annotations

import itertools

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.errors import SettingsError
from core.library import autostart
from core.library.settings import (
    CHECK_HOURS_RANGE,
    KEEP_POINTS_RANGE,
    LIMIT_KIB_RANGE,
    THREADS_RANGE,
    Settings,
    normalize_source,
)


class SettingsDialog(QDialog):
    """Edits a :class:`~core.library.settings.Settings`; read the result with :meth:`settings`."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(self.tr("Settings"))
        self._build_sources(settings.sources)
        self._build_numbers(settings)
        self._build_switches(settings)
        self._error = QLabel(self)
        self._error.setObjectName("errorLabel")
        self._error.setWordWrap(True)
        self._error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._error.hide()
        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self._buttons.setObjectName("buttonBox")
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        self._lay_out()
        self._update_state()

    # --- building ----------------------------------------------------------------------

    def _build_sources(self, sources: tuple[str, ...]) -> None:
        self._sources = QListWidget(self)
        self._sources.setObjectName("sourcesList")
        self._sources.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self._sources.addItems(list(sources))
        self._sources.setToolTip(
            self.tr(
                "Repositories Slipstream looks in for games and updates. "
                "“gog” stands for GOG's own servers. Press Delete to remove the selected ones."
            )
        )
        self._source_edit = QLineEdit(self)
        self._source_edit.setObjectName("sourceEdit")
        self._source_edit.setPlaceholderText("http://127.0.0.1:8080")
        self._source_edit.setClearButtonEnabled(True)
        self._source_edit.setToolTip(
            self.tr(
                "The address of a repository (http:// or https://), or the word gog; "
                "press Enter or Add to add it to the list."
            )
        )
        self._add = QPushButton(self.tr("&Add"), self)
        self._add.setObjectName("addSourceButton")
        self._add.setToolTip(self.tr("Add the address typed beside this button to the sources."))
        self._remove = QPushButton(self.tr("&Remove"), self)
        self._remove.setObjectName("removeSourceButton")
        self._remove.setToolTip(self.tr("Remove the selected sources from the list."))
        for button in (self._add, self._remove):
            # Enter in the address field adds it; it must not press OK as well.
            button.setAutoDefault(False)
        self._add.clicked.connect(self._on_add_clicked)
        self._remove.clicked.connect(self._on_remove_clicked)
        self._source_edit.returnPressed.connect(self._on_source_edit_return_pressed)
        self._source_edit.textChanged.connect(self._on_source_edit_text_changed)
        self._sources.itemSelectionChanged.connect(self._on_sources_item_selection_changed)

    def _build_numbers(self, settings: Settings) -> None:
        self._threads = QSpinBox(self)
        self._threads.setObjectName("threadsSpin")
        self._threads.setRange(*THREADS_RANGE)
        self._threads.setValue(settings.download_threads)
        self._threads.setToolTip(
            self.tr("How many files are downloaded at the same time (1 to 32).")
        )
        self._limit = QSpinBox(self)
        self._limit.setObjectName("limitSpin")
        self._limit.setRange(*LIMIT_KIB_RANGE)
        self._limit.setSingleStep(128)
        self._limit.setSuffix(self.tr(" KiB/s"))
        self._limit.setSpecialValueText(self.tr("No limit"))
        self._limit.setValue(settings.limit_rate_kib)
        self._limit.setToolTip(
            self.tr("The most download bandwidth Slipstream may use, in KiB/s; 0 means no limit.")
        )
        self._check_hours = QDoubleSpinBox(self)
        self._check_hours.setObjectName("checkHoursSpin")
        self._check_hours.setRange(*CHECK_HOURS_RANGE)
        self._check_hours.setDecimals(2)
        self._check_hours.setSingleStep(0.5)
        self._check_hours.setSuffix(self.tr(" h"))
        self._check_hours.setSpecialValueText(self.tr("Never"))
        self._check_hours.setValue(settings.check_hours)
        self._check_hours.setToolTip(
            self.tr(
                "Hours between background checks for new builds (at least 0.25); "
                "0 means never check on its own."
            )
        )
        self._keep = QSpinBox(self)
        self._keep.setObjectName("keepPointsSpin")
        self._keep.setRange(*KEEP_POINTS_RANGE)
        self._keep.setValue(settings.keep_rollback_points)
        self._keep.setToolTip(
            self.tr(
                "How many earlier versions of each game stay on disk so you can roll back "
                "without downloading (0 to 20); each one costs the disk space of the files "
                "an update replaced."
            )
        )
        for spin in (self._threads, self._limit, self._keep):
            spin.valueChanged.connect(self._on_spins_value_changed)
        self._check_hours.valueChanged.connect(self._on_spins_value_changed)

    def _build_switches(self, settings: Settings) -> None:
        self._notifications = self._switch(
            "notificationsCheck",
            self.tr("Show desktop &notifications"),
            settings.notifications,
            self.tr(
                "Tell you about new builds and finished or failed updates through the "
                "desktop's notifications (the tray's messages where there are none). "
                "Off: only the window's status bar shows them."
            ),
        )
        self._autostart = self._switch(
            "autostartCheck",
            self.tr("Start Slipstream at &login (in the tray)"),
            settings.start_at_login,
            self.tr(
                "Start Slipstream in the tray when you log in, so it checks for updates "
                "without you opening it (minimized where the desktop has no tray)."
            ),
        )
        if not autostart.supported():
            self._autostart.setEnabled(False)
            self._autostart.setToolTip(
                self.tr("Starting at login is not supported on this system yet.")
            )
        self._auto_update = self._switch(
            "autoUpdateCheck",
            self.tr("&Update games automatically"),
            settings.auto_update,
            self.tr(
                "When a background check finds a newer build, update the game on its own "
                "and tell you when it is done. A game whose files you changed is not "
                "updated on its own: you are told, and choose what to keep when you update."
            ),
        )

    def _switch(self, name: str, text: str, checked: bool, tip: str) -> QCheckBox:
        box = QCheckBox(text, self)
        box.setObjectName(name)
        box.setChecked(checked)
        box.setToolTip(tip)
        box.setAccessibleName(text.replace("&", ""))
        return box

    def _label(self, text: str, buddy: QWidget, name: str) -> QLabel:
        label = QLabel(text, self)
        label.setObjectName(name)
        label.setBuddy(buddy)
        label.setToolTip(buddy.toolTip())
        buddy.setAccessibleName(text.replace("&", "").rstrip(":"))
        return label

    def _lay_out(self) -> None:
        add_row = QHBoxLayout()
        add_row.addWidget(self._source_edit, 1)
        add_row.addWidget(self._add)
        add_row.addWidget(self._remove)
        form = QFormLayout()
        form.addRow(self._label(self.tr("&Sources:"), self._sources, "sourcesLabel"))
        form.addRow(self._sources)
        form.addRow(self._label(self.tr("A&ddress:"), self._source_edit, "sourceLabel"), add_row)
        form.addRow(
            self._label(self.tr("Download &threads:"), self._threads, "threadsLabel"), self._threads
        )
        form.addRow(
            self._label(self.tr("&Bandwidth limit:"), self._limit, "limitLabel"), self._limit
        )
        form.addRow(
            self._label(self.tr("&Check for updates every:"), self._check_hours, "checkHoursLabel"),
            self._check_hours,
        )
        form.addRow(
            self._label(self.tr("Rollback &points to keep:"), self._keep, "keepPointsLabel"),
            self._keep,
        )
        for box in (self._notifications, self._autostart, self._auto_update):
            form.addRow(box)
        outer = QVBoxLayout(self)
        outer.addLayout(form)
        outer.addWidget(self._error)
        outer.addWidget(self._buttons)
        order: list[QWidget] = [
            self._sources,
            self._source_edit,
            self._add,
            self._remove,
            self._threads,
            self._limit,
            self._check_hours,
            self._keep,
            self._notifications,
            self._autostart,
            self._auto_update,
            self._buttons,
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        self._sources.setFocus()

    # --- reading -----------------------------------------------------------------------

    def settings(self) -> Settings:
        """The values on screen (the sources in list order)."""
        return Settings(
            sources=tuple(self._sources.item(i).text() for i in range(self._sources.count())),
            download_threads=self._threads.value(),
            limit_rate_kib=self._limit.value(),
            check_hours=round(self._check_hours.value(), 2),
            keep_rollback_points=self._keep.value(),
            notifications=self._notifications.isChecked(),
            start_at_login=self._autostart.isChecked(),
            auto_update=self._auto_update.isChecked(),
        )

    def error_text(self) -> str:
        """The inline error shown now, or an empty string."""
        return self._error.text() if not self._error.isHidden() else ""

    # --- behaviour ---------------------------------------------------------------------

    def accept(self) -> None:
        """Add an address still in the field, then close only if every value is valid."""
        if self._source_edit.text().strip() and not self._add_source():
            return
        try:
            self.settings().validate()
        except SettingsError as exc:
            self._show_error(exc.detail)
            return
        super().accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and self.focusWidget() is self._source_edit:
            event.accept()  # the address field handled it (returnPressed adds the source)
            return
        if event.key() == Qt.Key.Key_Delete and self.focusWidget() is self._sources:
            self._on_remove_clicked()
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_add_clicked(self) -> None:
        self._add_source()

    def _on_source_edit_return_pressed(self) -> None:
        self._add_source()

    def _add_source(self) -> bool:
        """Add the typed address if it is valid and new; else show why. True if added."""
        try:
            source = normalize_source(self._source_edit.text())
        except SettingsError as exc:
            self._show_error(exc.detail)
            return False
        existing = [self._sources.item(i).text() for i in range(self._sources.count())]
        if source.casefold() in (s.casefold() for s in existing):
            self._show_error(self.tr("{0} is already in the list.").format(source))
            return False
        self._sources.addItem(source)
        self._sources.setCurrentRow(
            self._sources.count() - 1, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self._source_edit.clear()
        self._update_state()
        return True

    def _on_remove_clicked(self) -> None:
        for item in self._sources.selectedItems():
            self._sources.takeItem(self._sources.row(item))
        self._update_state()

    def _on_source_edit_text_changed(self, _text: str) -> None:
        self._update_state()

    def _on_sources_item_selection_changed(self) -> None:
        self._update_state()

    def _on_spins_value_changed(self, _value: float) -> None:
        self._update_state()

    def _update_state(self) -> None:
        """Enable buttons that can act; show the first invalid value and disable OK."""
        self._add.setEnabled(bool(self._source_edit.text().strip()))
        self._remove.setEnabled(bool(self._sources.selectedItems()))
        ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            self.settings().validate()
        except SettingsError as exc:
            self._show_error(exc.detail)
            ok.setEnabled(False)
            return
        self._error.clear()
        self._error.hide()
        ok.setEnabled(True)

    def _show_error(self, text: str) -> None:
        self._error.setText(text)
        self._error.show()
