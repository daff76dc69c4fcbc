"""Factories that build real objects and files for tests."""
