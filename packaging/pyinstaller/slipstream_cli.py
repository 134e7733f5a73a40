"""Frozen entry point of ``slipstream`` (PyInstaller runs this file as ``__main__``).

The patch pool starts its workers through multiprocessing's forkserver, which re-runs
this very executable; ``freeze_support`` must come first so that such a child runs the
forkserver (or resource tracker) instead of the command line.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from core.cli.commands import main

    sys.exit(main())
