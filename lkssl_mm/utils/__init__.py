"""Utilities: checkpoint loading, launching."""
