"""eros: a self-hosted engine for AI companions."""

__version__ = "0.1.0"
