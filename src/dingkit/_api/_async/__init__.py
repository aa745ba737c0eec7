"""Async resource facades (the source of ``_sync``)."""
