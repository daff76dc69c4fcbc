"""Conversations: sessions and messages, handoff and feedback, and the insights read from them."""
