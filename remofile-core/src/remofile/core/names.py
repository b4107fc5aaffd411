"""File name validity (SPEC.md section 4.4)."""

from __future__ import annotations

import re

from remofile.core.limits import MAX_NAME_BYTES, RESERVED_NAME_PREFIX

#: Characters the 2018 protocol forbids in names, kept so names stay portable.
FORBIDDEN_CHARACTERS = frozenset("<>:/\\|?*")


def is_file_name_valid(name: str) -> bool:
    """Tell whether ``name`` is a valid file name for the Remofile protocol.

    A valid name is a non-empty string that is not ``.`` or ``..``, contains none of
    ``< > : / \\ | ? *``, no control character (NUL, U+0001 to U+001F, U+007F to
    U+009F), encodes to at most 255
    bytes of UTF-8 (so no lone surrogate), and does not start with the reserved prefix
    ``.remofile-`` (in any letter case) that the server keeps for its staging area.

    :param name: The name to check.
    :returns: True if the name is valid.
    """
    if not isinstance(name, str) or name in ("", ".", ".."):
        return False
    if is_reserved_name(name):
        return False
    if _NOT_IN_NAMES.search(name):
        return False
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(encoded) <= MAX_NAME_BYTES


#: Any character no name may hold: the forbidden ones and the control characters (one
#: search instead of a Python test per character: names are checked for every file).
_NOT_IN_NAMES = re.compile(
    "[" + re.escape("".join(sorted(FORBIDDEN_CHARACTERS))) + "\x00-\x1f\x7f-\x9f]"
)


def is_control_character(character: str) -> bool:
    """C0 and C1 control characters and DEL, which no file name may hold."""
    code = ord(character)
    return code < 0x20 or 0x7F <= code <= 0x9F


def is_reserved_name(name: str) -> bool:
    """Names the server keeps for itself, compared without regard to letter case so
    that a case-insensitive file system cannot be used to reach them."""
    return name[: len(RESERVED_NAME_PREFIX)].lower() == RESERVED_NAME_PREFIX
