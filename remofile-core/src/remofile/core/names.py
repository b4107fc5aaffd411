"""File name validity (SPEC.md section 4.4)."""

from __future__ import annotations

from remofile.core.limits import MAX_NAME_BYTES, RESERVED_NAME_PREFIX

#: Characters the 2018 protocol forbids in names, kept so names stay portable.
FORBIDDEN_CHARACTERS = frozenset("<>:/\\|?*")


def is_file_name_valid(name: str) -> bool:
    """Tell whether ``name`` is a valid file name for the Remofile protocol.

    A valid name is a non-empty string that is not ``.`` or ``..``, contains none of
    ``< > : / \\ | ? *``, no NUL or other control character, encodes to at most 255
    bytes of UTF-8 (so no lone surrogate), and does not start with the reserved prefix
    ``.remofile-`` that the server keeps for its staging area.

    :param name: The name to check.
    :returns: True if the name is valid.
    """
    if not isinstance(name, str) or name in ("", ".", ".."):
        return False
    if name.startswith(RESERVED_NAME_PREFIX):
        return False
    for character in name:
        if character in FORBIDDEN_CHARACTERS or ord(character) < 0x20 or character == "\x7f":
            return False
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(encoded) <= MAX_NAME_BYTES
