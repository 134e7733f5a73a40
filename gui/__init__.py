"""Slipstream's PySide6 window."""
