"""core/library/autostart.py: the XDG autostart entry that starts the window in the tray at
login, written into a temp ``XDG_CONFIG_HOME`` and checked with ``desktop-file-validate``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import AutostartError, LocalIOError
from core.library import autostart
from core.library.autostart import (
    ENTRY_NAME,
    disable,
    enable,
    entry_path,
    exec_line,
    gui_command,
    is_enabled,
    set_enabled,
)

pytestmark = pytest.mark.skipif(not autostart.supported(), reason="XDG autostart is Linux's")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))
    return folder


def validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    assert tool is not None, "desktop-file-validate is installed by scripts/setup.sh --dev"
    result = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def exec_of(path: Path) -> str:
    lines = [line for line in path.read_text("utf-8").splitlines() if line.startswith("Exec=")]
    assert len(lines) == 1
    return lines[0].removeprefix("Exec=")


def test_enable_writes_a_valid_entry_in_xdg_config_home_and_disable_removes_it(
    config: Path,
) -> None:
    assert entry_path() == config / "autostart" / ENTRY_NAME
    assert not is_enabled()
    written = enable(["/opt/slipstream/bin/slipstream-gui"])
    assert written == config / "autostart" / ENTRY_NAME
    validate(written)
    text = written.read_text("utf-8")
    assert exec_of(written) == "/opt/slipstream/bin/slipstream-gui --hidden"
    assert "X-GNOME-Autostart-enabled=true\n" in text
    assert "Type=Application\n" in text
    assert is_enabled()
    assert sorted(p.name for p in written.parent.iterdir()) == [ENTRY_NAME]  # no temporary
    disable()
    assert not written.exists()
    assert not is_enabled()
    disable()  # nothing to remove is not an error


def test_without_xdg_config_home_the_entry_goes_to_dot_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "player"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert entry_path() == tmp_path / "player" / ".config" / "autostart" / ENTRY_NAME
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/path")  # the spec says: ignore it
    assert entry_path() == tmp_path / "player" / ".config" / "autostart" / ENTRY_NAME
    enable(["/usr/bin/slipstream-gui"])
    assert is_enabled()
    validate(entry_path())


def test_the_default_command_is_the_installed_slipstream_gui(config: Path) -> None:
    """In this checkout's virtual environment ``slipstream-gui`` sits beside Python."""
    beside = Path(sys.executable).parent / "slipstream-gui"
    assert beside.is_file(), "the package is installed into the venv by scripts/setup.sh"
    assert gui_command() == [str(beside)]
    set_enabled(True)
    validate(entry_path())
    assert exec_of(entry_path()) == exec_line([str(beside), "--hidden"])


def test_arguments_with_spaces_and_specials_are_quoted_and_escaped(config: Path) -> None:
    command = ["/home/p/My Games/slip stream", "--name=50%", 'a"b$c\\d']
    assert exec_line(command) == (
        '"/home/p/My Games/slip stream" --name=50%% "a\\\\"b\\\\$c\\\\\\\\d"'
    )
    validate(enable(command))


def test_an_entry_the_desktop_turned_off_is_off_and_enabling_turns_it_on(config: Path) -> None:
    path = enable(["/usr/bin/slipstream-gui"])
    path.write_text(path.read_text("utf-8").replace("enabled=true", "enabled=false"), "utf-8")
    assert not is_enabled()
    set_enabled(True)
    assert is_enabled()
    set_enabled(False)
    assert not path.exists()


def test_set_enabled_rewrites_an_entry_that_runs_another_installation(config: Path) -> None:
    path = enable(["/old/place/slipstream-gui"])
    set_enabled(True)
    assert exec_of(path) == exec_line([*gui_command(), "--hidden"])


def test_a_folder_that_cannot_be_written_gives_a_typed_error_naming_it(config: Path) -> None:
    config.mkdir()
    (config / "autostart").write_text("a file where the folder should be", "utf-8")
    with pytest.raises(AutostartError) as err:
        enable(["/usr/bin/slipstream-gui"])
    assert isinstance(err.value, LocalIOError)
    message = str(err.value)
    assert message.startswith("Slipstream could not change whether it starts when you log in.")
    assert "write the start-at-login entry" in message
    assert str(config / "autostart") in message


def test_an_entry_that_cannot_be_removed_gives_a_typed_error(config: Path) -> None:
    path = entry_path()
    (path / "inside").mkdir(parents=True)  # a folder where the entry should be
    with pytest.raises(AutostartError) as err:
        disable()
    assert "remove the start-at-login entry" in str(err.value)
    assert str(path) in str(err.value)
    assert path.is_dir()


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_elsewhere_enabling_says_it_is_not_supported_and_writes_nothing(
    config: Path, monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    assert not autostart.supported()
    with pytest.raises(AutostartError) as err:
        enable(["/usr/bin/slipstream-gui"])
    assert "not supported on this system yet" in str(err.value)
    assert not config.exists()
