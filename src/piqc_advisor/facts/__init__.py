"""Facts: typed, immutable knowledge about deployments, each with its origin."""
