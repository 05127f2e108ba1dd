"""Tidings: a self-hosted webhook platform."""

__version__ = "0.1.0"
