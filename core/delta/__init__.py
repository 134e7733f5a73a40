"""Patch codecs (xdelta3 today) and the worker-process pool that runs them: codecs hold
the GIL and may crash on hostile input, so they never run in the caller's process."""
