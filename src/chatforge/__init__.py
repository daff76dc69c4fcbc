"""Chatforge: self-hosted AI chatbots grounded in your knowledge."""

__version__ = "0.1.0"
