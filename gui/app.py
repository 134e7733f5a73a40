"""Entry point of ``slipstream-gui``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from core import __version__

    args = sys.argv[1:] if argv is None else argv
    if "--version" in args:
        print(f"slipstream-gui {__version__}")
        return 0
    print("slipstream-gui: the window is not built yet (see issue 'The desktop app').", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
