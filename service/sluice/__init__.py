"""Sluice: an event ingestion gateway with a Rust core."""

__version__ = "0.1.0"
