"""The ciphertexts of ``ckspec serve``: authenticated encryption bound to the key and the
encryption context, different on every call.

KMS's ciphertext is opaque to callers; what they can observe is that it names its key, that
it decrypts only with the same encryption context (else ``InvalidCiphertextException``), that
two encryptions of the same plaintext differ, and that it reveals nothing of the plaintext.
Here a ciphertext is ``MAGIC || key ID (36 ASCII bytes) || nonce (12) || AES-256-GCM(plaintext)``;
the GCM key is derived from the account's secret and the key ID, and the additional data is the
key ID and the encryption context in a canonical form (pairs sorted, so their order does not
matter, as in KMS).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"\x01cks"
_KEY_ID_LENGTH = 36
_NONCE = 12
_HEADER = len(MAGIC) + _KEY_ID_LENGTH + _NONCE


class BadCiphertext(ValueError):
    """Not a ciphertext of this account, or not with this encryption context."""


def key_of(blob: bytes) -> str:
    """The key ID a ciphertext names; BadCiphertext when it is not one of ours."""
    if not isinstance(blob, (bytes, bytearray)) or len(blob) < _HEADER + 16 or not blob.startswith(MAGIC):
        raise BadCiphertext("not a ciphertext")
    try:
        return bytes(blob[len(MAGIC):len(MAGIC) + _KEY_ID_LENGTH]).decode("ascii")
    except UnicodeDecodeError:
        raise BadCiphertext("not a ciphertext") from None


def encrypt(secret: bytes, key_id: str, plaintext: bytes, context: Mapping[str, str] | None,
            nonce: bytes) -> bytes:
    name = key_id.encode("ascii")
    if len(name) != _KEY_ID_LENGTH or len(nonce) != _NONCE:
        raise ValueError("a key ID of 36 characters and a nonce of 12 bytes")
    sealed = AESGCM(_material(secret, key_id)).encrypt(nonce, bytes(plaintext), _aad(key_id, context))
    return MAGIC + name + nonce + sealed


def decrypt(secret: bytes, blob: bytes, context: Mapping[str, str] | None) -> tuple[str, bytes]:
    """The key ID and the plaintext; BadCiphertext when the blob or the context does not match."""
    key_id = key_of(blob)
    nonce = bytes(blob[len(MAGIC) + _KEY_ID_LENGTH:_HEADER])
    try:
        return key_id, AESGCM(_material(secret, key_id)).decrypt(nonce, bytes(blob[_HEADER:]), _aad(key_id, context))
    except InvalidTag:
        raise BadCiphertext("the ciphertext or its encryption context does not match") from None


def _material(secret: bytes, key_id: str) -> bytes:
    return hmac.new(secret, b"ckspec-key-material:" + key_id.encode("ascii"), hashlib.sha256).digest()


def _aad(key_id: str, context: Mapping[str, str] | None) -> bytes:
    pairs = sorted((context or {}).items())
    return key_id.encode("ascii") + b"\x00" + json.dumps(pairs, ensure_ascii=False).encode("utf-8")
