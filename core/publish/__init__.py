"""The publisher: build folders into a static GOG-format repository (chunks, manifests,
patch chains, pruning). The client never imports it."""
