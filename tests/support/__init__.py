"""Code the tests share: servers, builds, an independent GOG reader."""
