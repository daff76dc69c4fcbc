"""Evaluation: reproducible quality figures measured through the real services.

This layer sits above :mod:`chatforge.services` (it ingests and chats through them, as a user
would) and below the commands that print its reports.
"""
