"""core/library/settings.py: the player's settings file, its validation and the engine options."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.errors import LocalIOError, SettingsError, UsageError
from core.library import settings as settings_mod
from core.library.settings import (
    Settings,
    default_path,
    load_settings,
    load_settings_checked,
    normalize_source,
    save_settings,
)
from core.update.options import EngineOptions, options_from_settings

CUSTOM = Settings(
    sources=("http://127.0.0.1:8080", "gog", "https://cdn.example.com/games"),
    download_threads=9,
    limit_rate_kib=512,
    check_hours=1.5,
    keep_rollback_points=5,
    notifications=False,
    start_at_login=True,
    auto_update=True,
)


def test_missing_file_gives_defaults_and_no_message(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "settings.json"
    assert load_settings_checked(path) == (Settings(), None)
    assert Settings() == Settings((), 4, 0, 6.0, 2, True, False, False)
    assert not path.parent.exists()


def test_round_trip_through_a_real_file_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "settings.json"
    save_settings(CUSTOM, path)
    assert json.loads(path.read_text("utf-8")) == {
        "version": 1,
        "sources": ["http://127.0.0.1:8080", "gog", "https://cdn.example.com/games"],
        "download_threads": 9,
        "limit_rate_kib": 512,
        "check_hours": 1.5,
        "keep_rollback_points": 5,
        "notifications": False,
        "start_at_login": True,
        "auto_update": True,
    }
    assert load_settings_checked(path) == (CUSTOM, None)
    assert load_settings(path) == CUSTOM


def test_default_path_is_in_slipstream_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPSTREAM_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "settings.json"
    save_settings(CUSTOM)
    assert (tmp_path / "home" / "settings.json").is_file()
    assert load_settings() == CUSTOM


def test_save_replaces_the_file_through_a_renamed_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(), path)
    replaced: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        # At the moment of the rename the old settings are still whole under the real name.
        assert load_settings(path) == Settings()
        assert json.loads(Path(src).read_text("utf-8"))["download_threads"] == 9
        replaced.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_settings(CUSTOM, path)
    assert len(replaced) == 1
    src, dst = replaced[0]
    assert dst == path and src.parent == path.parent and src != path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]
    assert load_settings(path) == CUSTOM


def test_a_failed_save_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "settings.json"
    save_settings(CUSTOM, path)
    before = path.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(LocalIOError) as err:
        save_settings(Settings(), path)
    assert "No space left on device" in str(err.value)
    assert "save the settings" in str(err.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_invalid_settings_are_not_saved(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    with pytest.raises(SettingsError):
        save_settings(Settings(download_threads=0), path)
    assert not path.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"{ this is not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b"",
        b"[" * 100_000,
    ],
    ids=["broken-json", "not-utf8", "not-an-object", "empty", "deep-nesting"],
)
def test_a_corrupt_file_gives_defaults_a_message_and_is_left_alone(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    settings, message = load_settings_checked(path)
    assert settings == Settings()
    assert message is not None
    assert str(path) in message and "defaults" in message
    assert load_settings(path) == Settings()
    assert path.read_bytes() == content


def test_an_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b" " * (settings_mod.MAX_FILE_BYTES + 1) + b"{}")
    settings, message = load_settings_checked(path)
    assert settings == Settings()
    assert message is not None and "larger than" in message


def test_an_unreadable_path_gives_defaults_and_a_message(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.mkdir()  # a folder where the file should be: reading it fails with an OSError
    settings, message = load_settings_checked(path)
    assert settings == Settings()
    assert message is not None and "Could not read the settings" in message
    assert path.is_dir()


def test_bad_values_fall_back_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    doc = {
        "sources": ["http://ok.example:8080/", "ftp://old.example", 7, "gog", "GOG"],
        "download_threads": 0,
        "limit_rate_kib": "fast",
        "check_hours": 12,
        "keep_rollback_points": True,
        "future_setting": {"ignored": 1},
    }
    text = json.dumps(doc)
    path.write_text(text, "utf-8")
    settings, message = load_settings_checked(path)
    assert settings == Settings(
        sources=("http://ok.example:8080", "gog"),
        download_threads=4,
        limit_rate_kib=0,
        check_hours=12.0,
        keep_rollback_points=2,
    )
    assert message is not None
    for fragment in (
        "ftp://old.example",
        "7",
        "Download threads must be between 1 and 32, not 0",
        "The bandwidth limit (KiB/s) must be a whole number, not 'fast'",
        "Rollback points to keep must be a whole number, not True",
        "Saving the settings will replace the file",
    ):
        assert fragment in message
    assert path.read_text("utf-8") == text


def test_a_file_from_before_the_switches_loads_with_their_defaults(tmp_path: Path) -> None:
    """A settings file written before notifications, start at login and automatic updates
    existed loads as it was, with notifications on and the other two off."""
    path = tmp_path / "settings.json"
    old = {
        "version": 1,
        "sources": ["gog"],
        "download_threads": 8,
        "limit_rate_kib": 0,
        "check_hours": 6.0,
        "keep_rollback_points": 2,
    }
    path.write_text(json.dumps(old), "utf-8")
    settings, message = load_settings_checked(path)
    assert message is None
    assert settings == Settings(sources=("gog",), download_threads=8)
    assert (settings.notifications, settings.start_at_login, settings.auto_update) == (
        True,
        False,
        False,
    )


def test_a_switch_that_is_not_true_or_false_falls_back_to_its_default(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"notifications": "no", "start_at_login": 1, "auto_update": true}', "utf-8")
    settings, message = load_settings_checked(path)
    assert settings == Settings(auto_update=True)
    assert message is not None
    assert "Desktop notifications must be true or false, not 'no'" in message
    assert "Start at login must be true or false, not 1" in message


def test_a_partial_file_keeps_defaults_for_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"download_threads": 16}', "utf-8")
    assert load_settings_checked(path) == (Settings(download_threads=16), None)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (Settings(download_threads=0), "Download threads must be between 1 and 32, not 0"),
        (Settings(download_threads=33), "Download threads must be between 1 and 32, not 33"),
        (Settings(limit_rate_kib=-1), "bandwidth limit (KiB/s) must be between 0 and"),
        (Settings(check_hours=-1.0), "update checks must be between 0 and 720, not -1"),
        (Settings(check_hours=float("nan")), "update checks must be a number"),
        (Settings(check_hours=0.1), "at most every 0.25 hours, or set 0 to never check"),
        (Settings(keep_rollback_points=21), "Rollback points to keep must be between 0 and 20"),
        (Settings(sources=("ftp://x.example",)), "must start with http:// or https://"),
        (Settings(sources=("http://",)), "names no server"),
        (Settings(sources=("http://a.example/",)), "as 'http://a.example'"),
        (Settings(sources=("gog", "gog")), "listed twice"),
        (Settings(auto_update=1), "Automatic updates must be true or false"),  # type: ignore[arg-type]
    ],
)
def test_validation_messages_name_the_problem(settings: Settings, fragment: str) -> None:
    with pytest.raises(SettingsError) as err:
        settings.validate()
    assert fragment in str(err.value)
    assert isinstance(err.value, UsageError)
    assert str(err.value).startswith("A setting is not valid")


def test_valid_settings_pass_validation() -> None:
    Settings().validate()
    CUSTOM.validate()
    Settings(check_hours=0.0, limit_rate_kib=0, keep_rollback_points=0).validate()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  http://127.0.0.1:8080/ ", "http://127.0.0.1:8080"),
        ("HTTPS://cdn.example.com/a/b/", "HTTPS://cdn.example.com/a/b"),
        ("Gog", "gog"),
    ],
)
def test_normalize_source(text: str, expected: str) -> None:
    assert normalize_source(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Enter a repository address"),
        ("example.com", "must start with http://"),
        ("file:///srv/repo", "must start with http://"),
        ("http://exa mple.com", "contains spaces"),
        ("http://example.com:99999", "invalid port"),
        ("http://example.com/?x=1", "?query"),
        ("http://[::1", "not a valid address"),
        ("http://[zz]/", "not a valid address"),
    ],
)
def test_normalize_source_refuses(text: str, fragment: str) -> None:
    with pytest.raises(SettingsError) as err:
        normalize_source(text)
    assert fragment in err.value.detail


def test_engine_options_mapping() -> None:
    options = options_from_settings(CUSTOM)
    assert (options.jobs, options.limit_rate, options.keep_points) == (9, 512 * 1024.0, 5)
    unlimited = options_from_settings(Settings(limit_rate_kib=0))
    assert unlimited.limit_rate is None
    assert unlimited == EngineOptions(jobs=4, limit_rate=None, keep_points=2)


def test_engine_options_keep_the_rest_of_the_base() -> None:
    base = EngineOptions(jobs=1, patch_jobs=3, use_patches=False, keep_modified=True)
    options = options_from_settings(CUSTOM, base)
    assert options.patch_jobs == 3
    assert options.use_patches is False and options.keep_modified is True
    assert options.fetch_limits is base.fetch_limits
    assert (options.jobs, options.limit_rate, options.keep_points) == (9, 524288.0, 5)
    assert base.jobs == 1  # the base is not changed
