"""The publisher: build folders into a static GOG-format repository."""
