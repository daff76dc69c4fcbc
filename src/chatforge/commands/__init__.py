"""The ``chatforge`` subcommands, one module per command group, registered by :mod:`chatforge.cli`.

    server      serve, migrate
    keys        keys create | list | revoke
    chatbots    chatbots list
    ingest      ingest CHATBOT_ID PATH...
    worker      worker [--concurrency N]

Each module has a ``register(app)`` function. A command body parses its options, opens the
context with :func:`chatforge.commands.common.opened`, calls services and prints; the work itself
lives in :mod:`chatforge.services`.
"""
