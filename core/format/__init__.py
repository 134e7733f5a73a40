"""The format layer: GOG content-system v2 documents (frozen models, strict readers and
writers), the repository layout, zlib JSON and path rules. Pure: no IO beyond bytes in and
out, and nothing above the kernel imported."""
