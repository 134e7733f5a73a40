"""What lives in a game folder's ``.slipstream/``: the installed state, cached manifests,
staging, the journal that commits and rolls back, rollback points, and verification."""
