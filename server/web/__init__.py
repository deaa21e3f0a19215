"""The web side of the server (JSON API now; dashboard and office console to follow)."""
