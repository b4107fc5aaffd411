"""Tokens and CURVE keys (SPEC.md sections 3.1 and 2.3)."""

from __future__ import annotations

import re
import secrets

import zmq

#: Characters of a generated token: 22 of the 64 URL-safe ones carry 131.98 bits (the
#: first, never '-', carries log2(63)), more than the 128 the protocol requires.
TOKEN_LENGTH = 22

#: What generated tokens are made of: the URL-safe base64 alphabet.
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

#: What a token may be made of: URL-safe text, so it survives shells and URLs.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_.~-]{8,256}")

#: A CURVE key in Z85 text: 40 characters for 32 bytes.
Z85_KEY_PATTERN = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")


def generate_token() -> str:
    """Generate a random token.

    The token is 22 characters of URL-safe text carrying more than 128 bits from the
    operating system's cryptographic random source. It never starts with '-', so that no
    command line takes it for an option. Give it to the server and to its clients.
    """
    first = secrets.choice(TOKEN_ALPHABET.replace("-", ""))
    return first + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH - 1))


def is_token_valid(token: object) -> bool:
    """Tell whether ``token`` has the form of a token: 8 to 256 URL-safe characters."""
    return isinstance(token, str) and TOKEN_PATTERN.fullmatch(token) is not None


def validate_token(token: object) -> str:
    """Return ``token`` if it is valid.

    :raises ValueError: if it is not a token (see :func:`is_token_valid`).
    """
    if not is_token_valid(token):
        raise ValueError("token must be 8 to 256 characters of A-Z, a-z, 0-9, '_', '.', '~' or '-'")
    assert isinstance(token, str)
    return token


def generate_keys() -> tuple[str, str]:
    """Generate a pair of CURVE keys to encrypt the communication.

    :returns: ``(public_key, private_key)`` as Z85 text of 40 characters each. The
        public key goes to the clients; the private key stays with the server.
    """
    public_key, private_key = zmq.curve_keypair()
    return public_key.decode("ascii"), private_key.decode("ascii")


def validate_key(key: object) -> str:
    """Return ``key`` if it is a Z85 CURVE key of 40 characters.

    :raises ValueError: if it is not.
    """
    if not isinstance(key, str) or Z85_KEY_PATTERN.fullmatch(key) is None:
        raise ValueError("key must be 40 characters of Z85 text, as generate_keys() makes")
    return key


def public_key_of(private_key: str) -> str:
    """The public key that pairs with a private key."""
    return zmq.curve_public(validate_key(private_key).encode("ascii")).decode("ascii")
