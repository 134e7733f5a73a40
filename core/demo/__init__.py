"""The built-in demo: a sample game generated from (path, seed, size) descriptions, published
in several builds, served on loopback and installed, so Update can be pressed at once."""
