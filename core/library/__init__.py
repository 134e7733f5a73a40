"""The player's library under ``SLIPSTREAM_HOME``: the SQLite database of installs, history
and metrics, and the settings file."""
