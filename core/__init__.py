"""Slipstream's engine: repository format, publisher, server and update engine (Qt-free)."""

__version__ = "0.1.0"
