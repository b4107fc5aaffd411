"""Protocol constants and the defaults a server starts with (SPEC.md section 5)."""

from __future__ import annotations

#: The protocol version this implementation speaks (SPEC.md section 3.2).
PROTOCOL_VERSION = 1

#: The TCP port a server listens on when none is given.
DEFAULT_PORT = 6768

#: Largest file, in bytes, a server accepts by default (1 TiB).
DEFAULT_FILE_SIZE_LIMIT_BYTES = 1 << 40

#: Smallest and largest chunk, in bytes, a server accepts by default.
DEFAULT_CHUNK_SIZE_RANGE_BYTES = (512, 8 * 1024 * 1024)

#: The chunk size clients use when the caller does not choose one (measured, see README).
DEFAULT_CHUNK_SIZE_BYTES = 1024 * 1024

#: Requests a client keeps in flight during a transfer: the server's most. Over a link
#: with 40 ms of round trip, a tree of 161 directories uploaded 10.2 MiB/s with 8 and
#: 13.9 with 16 (each MAKE_DIRECTORY holds a place for a round trip); on 127.0.0.1 the
#: two are alike within the noise. Memory: 16 chunks of 1 MiB per side.
DEFAULT_WINDOW_CHUNKS = 16

#: Most requests a server lets one client have in flight.
MAX_REQUESTS_IN_FLIGHT = 16

#: Bytes a message may carry on top of its largest chunk (Request fields, paths, digests).
MESSAGE_OVERHEAD_BYTES = 64 * 1024

#: Longest file name, in bytes of UTF-8 (the common file system limit).
MAX_NAME_BYTES = 255

#: Longest remote path, in bytes of UTF-8.
MAX_PATH_BYTES = 4096

#: A session with no request for this long is closed by the server.
DEFAULT_SESSION_TIMEOUT_MS = 30_000

#: Most entries one LIST_FILES page carries.
MAX_LIST_ENTRIES = 65_536

#: Entries one CONTINUE_REMOVAL removes at most.
REMOVAL_BATCH_ENTRIES = 1_000

#: Most files one UPLOAD_FILES or DOWNLOAD_FILES request names (SPEC.md 4.17, 4.18).
MAX_BATCH_FILES = 256

#: Longest message of a file's result in a batch answer, in bytes of UTF-8: 256 results
#: with their digests stay well inside MESSAGE_OVERHEAD_BYTES.
MAX_BATCH_MESSAGE_BYTES = 120

#: Name of the server's staging directory under the root; names starting so are reserved.
RESERVED_NAME_PREFIX = ".remofile-"


def max_message_bytes(max_chunk_size: int) -> int:
    """The largest message a peer must accept for a given largest chunk."""
    return max_chunk_size + MESSAGE_OVERHEAD_BYTES
