"""Collectors: the only code that reads and parses inputs into facts."""
