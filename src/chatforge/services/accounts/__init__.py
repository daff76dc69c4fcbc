"""Organizations and people: API keys, console users and their sessions, quotas."""
