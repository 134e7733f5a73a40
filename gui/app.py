"""Entry point of ``slipstream-gui``.

The window itself is the next piece of work (issue "The desktop app"); until it lands
this entry point answers ``--version`` and says so plainly instead of failing oddly.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from core import __version__

    args = sys.argv[1:] if argv is None else argv
    if "--version" in args:
        print(f"slipstream-gui {__version__}")
        return 0
    print(
        "slipstream-gui: the window is not built yet; use the slipstream command.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
