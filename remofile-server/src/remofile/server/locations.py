"""What a server's root names: a local directory, or ``s3://bucket/prefix``."""

from __future__ import annotations

from remofile.server.storage import LocalStorage, Storage

#: Roots starting with this are served from an S3-compatible bucket (S3Storage).
S3_SCHEME = "s3://"


def is_storage_url(root: str) -> bool:
    """Whether ``root`` names object storage rather than a local directory."""
    return root.startswith(S3_SCHEME)


def open_storage(root: str) -> Storage:
    """The storage a root names: :class:`S3Storage` for ``s3://bucket/prefix`` (needs
    ``remofile-server[s3]``), :class:`LocalStorage` for a directory.

    :raises NotADirectoryError: if the directory or the bucket cannot be served.
    """
    if root.startswith(S3_SCHEME):
        try:
            from remofile.server.s3_storage import S3Storage
        except ImportError as error:  # boto3 missing
            raise NotADirectoryError(
                f"serving {root} needs boto3: pip install 'remofile-server[s3]' ({error})"
            ) from error
        return S3Storage(root)
    return LocalStorage(root)


def check_storage(root: str) -> None:
    """Open the storage a root names and close it again, so that a wrong bucket or wrong
    credentials fail before a server starts (or detaches as a daemon, which closes the
    sockets it inherits).

    :raises NotADirectoryError: as :func:`open_storage` does.
    """
    storage = open_storage(root)
    if root.startswith(S3_SCHEME):
        from remofile.server.s3_storage import S3Storage

        if isinstance(storage, S3Storage):
            storage.close()
