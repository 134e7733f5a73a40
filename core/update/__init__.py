"""The operations on an installed game: choose a target, plan (pure), stage (fetch and
patch), apply, commit through the journal, roll back, verify and repair; every one recorded
in the library."""
