"""Chat: a grounded, cited answer in a remembered conversation, streamed."""
