"""Chatbots: their settings, avatar and the checks on uploaded images."""
