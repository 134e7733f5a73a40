"""The client's network layer: the one fetcher (HTTP rules, retries, resume, rate limit),
its limits, and the repository source that reads listings, manifests and patch indexes."""
