"""The ``slipstream`` command: argument parsing and one function per command.

``core.cli:main`` is the console script's entry point (see pyproject.toml). It imports the
commands only when called: the patch workers' fork server imports the console script
(multiprocessing's ``__main__``), and with the commands imported there, every update's
first patch waited for the signing and object-storage libraries to load.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from core.cli.commands import main as run

    return run(argv)


__all__ = ["main"]
