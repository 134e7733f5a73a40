"""Human-readable numbers for terminal output."""

from __future__ import annotations


def format_bytes(n: float) -> str:
    """``13820459`` → ``13.8 MB`` (decimal units, as download sizes are usually shown)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent_saved(part: int, whole: int) -> float:
    return 100.0 * (1 - part / whole) if whole else 0.0
