"""Domain logic that knows nothing of HTTP or SQL."""
