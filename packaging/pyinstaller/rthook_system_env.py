"""PyInstaller runtime hook: programs we start get the player's library path, not ours.

The bootloader puts the bundle's folder in front of LD_LIBRARY_PATH (keeping the
player's value, if any, in LD_LIBRARY_PATH_ORIG). The dynamic loader read the variable
when this process started, so changing it now only affects child processes: the xdelta3
command the publisher runs for large files, and xdg-open and the browser behind a link
in the window. Those must load the system's libraries, not the bundle's copies.

A copy of this executable started by this one (the patch pool's forkserver) inherits the
cleaned variable and is not set up again by its bootloader, so the rule is: restore
LD_LIBRARY_PATH_ORIG when there is one, and in any case drop the bundle's folder.
"""

import os
import sys


def _restore_library_path() -> None:
    bundle = os.path.realpath(getattr(sys, "_MEIPASS", ""))
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    value = original if original is not None else os.environ.get("LD_LIBRARY_PATH", "")
    kept = [p for p in value.split(os.pathsep) if p and os.path.realpath(p) != bundle]
    if kept:
        os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(kept)
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


_restore_library_path()
del _restore_library_path
