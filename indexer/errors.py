"""The small exception hierarchy the API maps to HTTP codes and the CLI to clean messages."""


class KBError(Exception):
    """Base class for every error kb-assistant raises on purpose."""


class DocumentLoadError(KBError):
    """A source file could not be read; carries the path and a short reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class IndexNotFoundError(KBError):
    """No index exists at the configured directory (run `kb index` first)."""


class IndexMismatchError(KBError):
    """The index was built with another model, dimension or format than the one configured."""


class ModelIntegrityError(KBError):
    """The bundled model's files do not match the expected checksum."""


class InvalidQueryError(KBError):
    """The query or its options are not acceptable (empty, too long, unknown filter...).

    ``field`` names the option at fault when there is one ("top_k"), so the API can point at
    it as it does for its own validation errors, and the CLI can ignore it.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DatasetError(KBError):
    """A labelled set cannot be read as one (a missing file, a bad line, no questions)."""


class DeadlineExceeded(KBError):
    """The work took longer than its deadline (the API answers 504)."""


class NotFoundError(KBError):
    """A requested document or chunk does not exist in the index."""


class IndexCorruptError(KBError):
    """An index file does not match the checksum its manifest recorded."""


class IndexLockedError(KBError):
    """Another indexer is writing to the same index directory."""


class BackendUnavailableError(KBError):
    """The database holding the index cannot be reached (down, restarting, refusing logins):
    the API answers 503, as for an index it cannot load, not 500."""
