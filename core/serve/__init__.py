"""The embedded server (``slipstream serve``): static files with Range and ETag, and GOG's
dynamic endpoints answered from them. The client never imports it."""
