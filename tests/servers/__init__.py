"""Real HTTP servers on 127.0.0.1 that speak paid providers' wire protocols, for tests.

- :mod:`tests.servers.openai_server`: OpenAI Chat Completions (SSE chunks, ``[DONE]``, usage).
- :mod:`tests.servers.anthropic_server`: Anthropic Messages (typed SSE events).

Each runs in a thread, is scripted per test with :class:`tests.servers.base.Reply` objects (text,
error statuses with headers, delays, a connection dropped mid-stream) and records what it
received. Their wire format is checked against the official SDKs in
``tests/providers/chat/test_fake_servers.py``.
"""
