"""Frozen entry point of ``slipstream-gui`` (PyInstaller runs this file as ``__main__``).

As in ``slipstream_cli.py``: ``freeze_support`` first, so that multiprocessing's helper
processes (the forkserver behind the patch pool) never open a window.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from gui.app import main

    sys.exit(main())
