"""The ``slipstream`` command: argument parsing and one function per command.

``core.cli:main`` is the console script's entry point (see pyproject.toml)."""

from core.cli.commands import main

__all__ = ["main"]
