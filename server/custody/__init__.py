"""Custody: one record per device the school takes charge of (DESIGN.md: custody)."""
