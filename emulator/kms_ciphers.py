"""Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext) and GenerateRandom as an
application observes them, for every key ``ckspec serve`` holds.

For a key in a CloudHSM key store the model decides first whether the call succeeds (CRYPTO-01,
KS-06, CRYPTO-03, CRYPTO-04, ...): serve asks it with a stand-in plaintext or ciphertext and,
when it agrees, does the cryptography itself (:mod:`.kms_crypto`). For an ordinary key the key's
state decides (``DisabledException``, ``KMSInvalidStateException``). Either way: the encryption
context is bound to the ciphertext, ciphertexts differ on every call, data keys and random bytes
come from the operating system (or from ``--seed``).
"""

from __future__ import annotations

from typing import Any

from ckspec.model import identifiers as ids
from ckspec.model import messages
from ckspec.model.responses import encrypt_bytes

from . import kms_crypto
from .errors import validation
from .kms_keys import KeyRef, existing, fail, find, key_arn, key_id_of, usable
from .kms_plain import Request

SYMMETRIC = "SYMMETRIC_DEFAULT"
_NOT_VALID = messages.TEMPLATES[("InvalidCiphertextException", None)]


def _context(params: dict[str, Any], member: str = "EncryptionContext") -> dict[str, str]:
    context = params.get(member) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in context.items()):
        raise validation(f"{member}: every key and value must be a string.")
    return context


def _algorithm(params: dict[str, Any], member: str, key: KeyRef) -> None:
    algorithm = params.get(member, SYMMETRIC)
    if algorithm != SYMMETRIC:
        raise fail("InvalidKeyUsageException", f"{key.arn} is a symmetric encryption key: {member} must be "
                                               f"{SYMMETRIC}, not {algorithm}.")


def _admitted(r: Request, operation: str, key: KeyRef, extra: dict[str, Any]) -> dict[str, Any]:
    """Whether the key may be used: the model's answer for a key in a CloudHSM key store (its
    body), the key's state for an ordinary one (an empty body)."""
    if key.kind == "plain":
        usable(key)
        return {}
    return r.model(operation, {"KeyId": key.arn, **extra})


def _seal(r: Request, key: KeyRef, plaintext: bytes, context: dict[str, str]) -> bytes:
    return kms_crypto.encrypt(r.state.secret, key.key_id, plaintext, context, r.state.random_bytes(12))


def _target(r: Request, operation: str, member: str = "KeyId") -> KeyRef:
    """The key named, or, for an unknown one, the model's own NotFoundException."""
    key_id = key_id_of(r.account, r.params[member], r.region, operation)
    key = find(r.account, key_id, r.region)
    if key is None:
        r.model(operation, {"KeyId": key_arn(key_id, r.region), "Plaintext": b"\0"} if operation == "Encrypt"
                else {"KeyId": key_arn(key_id, r.region)})
        raise fail("NotFoundException", f"Key '{key_arn(key_id, r.region)}' does not exist")
    return key


def encrypt(r: Request) -> dict[str, Any]:
    key = _target(r, "Encrypt")
    _algorithm(r.params, "EncryptionAlgorithm", key)
    context = _context(r.params)
    _admitted(r, "Encrypt", key, {"Plaintext": b"\0"})
    return {"CiphertextBlob": _seal(r, key, r.params["Plaintext"], context), "KeyId": key.arn,
            "EncryptionAlgorithm": SYMMETRIC}


def generate_data_key(r: Request, with_plaintext: bool = True) -> dict[str, Any]:
    operation = "GenerateDataKey" if with_plaintext else "GenerateDataKeyWithoutPlaintext"
    key = _target(r, operation)
    context = _context(r.params)
    sizes = {k: r.params[k] for k in ("KeySpec", "NumberOfBytes") if k in r.params}
    if key.kind == "plain" and len(sizes) != 1:
        raise validation("Specify either KeySpec or NumberOfBytes, not both." if sizes else
                         "Specify either KeySpec or NumberOfBytes.")
    body = _admitted(r, operation, key, sizes)
    size = len(body["Plaintext"]) if "Plaintext" in body else \
        r.params.get("NumberOfBytes") or (16 if r.params.get("KeySpec") == "AES_128" else 32)
    secret = r.state.random_bytes(size)
    answer = {"CiphertextBlob": _seal(r, key, secret, context), "KeyId": key.arn}
    return {**answer, "Plaintext": secret} if with_plaintext else answer


def _opened(r: Request, blob: bytes, named: str | None, context: dict[str, str],
            operation: str) -> tuple[KeyRef, bytes]:
    """The key and plaintext of a ciphertext, as Decrypt (and ReEncrypt's source) find them."""
    try:
        key_id = kms_crypto.key_of(blob)
    except kms_crypto.BadCiphertext:
        raise fail("InvalidCiphertextException", _NOT_VALID, ("CRYPTO-01",)) from None
    if named is not None and key_id_of(r.account, named, r.region, operation) != key_id:
        raise fail("IncorrectKeyException", "The key ID in the request does not identify the key that encrypted "
                                            "the ciphertext.", ("CRYPTO-01",))
    key = find(r.account, key_id, r.region)
    if key is None:
        raise fail("NotFoundException", f"Key '{key_arn(key_id, r.region)}' does not exist")
    if key.kind == "model":  # the model judges the key's state with a ciphertext of its own format
        serial = ids.parse_key_id(r.account.model.ids.back[key_id])
        r.model("Decrypt", {"CiphertextBlob": encrypt_bytes(serial, b"")})
    else:
        usable(key)
    try:
        return key, kms_crypto.decrypt(r.state.secret, blob, context)[1]
    except kms_crypto.BadCiphertext:
        raise fail("InvalidCiphertextException", _NOT_VALID, ("CRYPTO-01",)) from None


def decrypt(r: Request) -> dict[str, Any]:
    if "CiphertextBlob" not in r.params:
        raise validation("Decrypt of a symmetric ciphertext needs CiphertextBlob.")
    context = _context(r.params)
    if r.params.get("EncryptionAlgorithm", SYMMETRIC) != SYMMETRIC:
        raise fail("InvalidCiphertextException", _NOT_VALID)
    key, plaintext = _opened(r, r.params["CiphertextBlob"], r.params.get("KeyId"), context, "Decrypt")
    return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": SYMMETRIC}


def re_encrypt(r: Request) -> dict[str, Any]:
    """KS-06: both keys must be usable (a key in a CloudHSM key store through the model)."""
    p = r.params
    if "CiphertextBlob" not in p:
        raise validation("ReEncrypt of a symmetric ciphertext needs CiphertextBlob.")
    source_context, context = _context(p, "SourceEncryptionContext"), _context(p, "DestinationEncryptionContext")
    source, plaintext = _opened(r, p["CiphertextBlob"], p.get("SourceKeyId"), source_context, "ReEncrypt")
    destination = existing(r.account, p["DestinationKeyId"], r.region, "ReEncrypt")
    _algorithm(p, "DestinationEncryptionAlgorithm", destination)
    _admitted(r, "Encrypt", destination, {"Plaintext": b"\0"})
    return {"CiphertextBlob": _seal(r, destination, plaintext, context), "SourceKeyId": source.arn,
            "KeyId": destination.arn, "SourceEncryptionAlgorithm": SYMMETRIC,
            "DestinationEncryptionAlgorithm": SYMMETRIC}


def generate_random(r: Request) -> dict[str, Any]:
    """RAND-01: the model says whether (a store that is CONNECTED, or none); the bytes are random."""
    body = r.model("GenerateRandom", dict(r.params))
    return {**body, "Plaintext": r.state.random_bytes(len(body["Plaintext"]))}


HANDLERS = {
    "Encrypt": encrypt, "Decrypt": decrypt, "ReEncrypt": re_encrypt, "GenerateRandom": generate_random,
    "GenerateDataKey": generate_data_key,
    "GenerateDataKeyWithoutPlaintext": lambda r: generate_data_key(r, with_plaintext=False),
}
