"""GOG itself as a source: account login, GOG's content-system hosts, adopting installed games.

``auth`` keeps the GOG account (tokens only in the system keyring), ``hosts`` says where
GOG is (the ``SLIPSTREAM_GOG_*_URL`` variables replace it), ``source`` reads builds,
manifests, patches and signed chunk links from GOG for the engine, and ``adopt`` takes
over a game that GOG Galaxy (or its installer) put on disk.
"""
