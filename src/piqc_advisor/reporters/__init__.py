"""Reporters: pure functions from a Report (and the catalog) to text in one format."""
