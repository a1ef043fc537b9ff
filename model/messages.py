"""The ``message`` of each error the model answers: AWS's own words where they are known.

A message is what an application logs or matches, so it reads as KMS's does: where the
documentation or a published answer quotes KMS's text (``<key ARN> is disabled.``,
``<key ARN> is pending deletion.``, ``Key '<key ARN>' does not exist``, ``<key ARN> origin
is AWS_CLOUDHSM which is not valid for this operation.``, ``KMS cannot communicate with your
CloudHSM cluster``), that text; otherwise a plain sentence in the same style. Rule IDs never
appear in a message: they travel next to it (:attr:`ckspec.model.actions.Response.rules`,
the ``x-ckspec-rules`` header of ``ckspec serve``). Messages never quote a secret (KU-04).

Templates are keyed by the error shape name and the check's first rule; a check without a
template gets its own ``why`` as a sentence. Placeholders: ``{arn}`` (the subject key's ARN),
``{given}`` (the KeyId of the request), ``{store}`` (the subject store's ID), ``{state}``
(the subject's state), ``{operation}``.
"""

from __future__ import annotations

from typing import Any

from . import identifiers as ids

#: KMS's own messages, as published (see the module docstring)
_DISABLED = "{arn} is disabled."
_PENDING_DELETION = "{arn} is pending deletion."
_ORIGIN = "{arn} origin is AWS_CLOUDHSM which is not valid for this operation."
_CANNOT_COMMUNICATE = "KMS cannot communicate with your CloudHSM cluster."
_INTERNAL = "KMS could not complete the request due to an internal error. Retry the request."

#: (error shape name, first rule of the check) -> template; (error, None) applies to any rule
TEMPLATES: dict[tuple[str, str | None], str] = {
    ("NotFoundException", None): "Key '{given}' does not exist",
    ("InvalidArnException", None): "Invalid arn {given}",
    ("DisabledException", None): _DISABLED,
    ("KMSInvalidStateException", "DK-02"): _PENDING_DELETION,
    ("KMSInvalidStateException", "DK-06"): "{arn} is not pending deletion (current state: {state}).",
    ("KMSInvalidStateException", "KS-06"): "{arn} is {shown}.",
    ("KMSInvalidStateException", "CRYPTO-01"): (
        "{arn} cannot be used: the AWS CloudHSM cluster of its custom key store has no active HSM or no "
        "longer holds its key material."),
    ("KMSInvalidStateException", "CRYPTO-03"): _CANNOT_COMMUNICATE,
    ("KMSInternalException", "CRYPTO-04"): (
        "The AWS CloudHSM cluster of the custom key store has no free PKCS #11 session. Retry the request."),
    ("KMSInternalException", "KEY-06"): _CANNOT_COMMUNICATE,
    ("KMSInternalException", "AMB-33"): "The AWS CloudHSM cluster of the custom key store has no active HSM.",
    ("KMSInternalException", None): _INTERNAL,
    ("DependencyTimeoutException", None): _CANNOT_COMMUNICATE,
    ("UnsupportedOperationException", "KS-09"): _ORIGIN,
    ("UnsupportedOperationException", "CRYPTO-06"): _ORIGIN,
    ("ValidationError", "KEY-01"): (
        "A KMS key in an AWS CloudHSM key store needs Origin AWS_CLOUDHSM and the CustomKeyStoreId of the store."),
    ("UnsupportedOperationException", "KEY-05"): (
        "A KMS key in an AWS CloudHSM key store must be a single-Region symmetric encryption key: "
        "KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT and Origin AWS_CLOUDHSM."),
    ("InvalidCiphertextException", None): "The ciphertext is not valid, or was not produced by KMS.",
    ("IncorrectKeyException", None): (
        "The key ID in the request does not identify the key that encrypted the ciphertext."),
    ("CustomKeyStoreNotFoundException", "DESC-03"): "No custom key store matches the ID or name in the request.",
    ("CustomKeyStoreNotFoundException", None): (
        "Custom key store '{given_store}' does not exist in this account and Region."),
    ("CustomKeyStoreInvalidStateException", "CONNECT-03"): (
        "Custom key store {store} is {state}. It can be connected only when it is DISCONNECTED; disconnect a "
        "FAILED custom key store first."),
    ("CustomKeyStoreInvalidStateException", "DISC-02"): (
        "Custom key store {store} is {state}; it is already disconnected or disconnecting."),
    ("CustomKeyStoreInvalidStateException", "UPDATE-03"): (
        "Custom key store {store} is CONNECTED. Disconnect it before changing its password or cluster."),
    ("CustomKeyStoreInvalidStateException", "KEY-02"): (
        "Custom key store {store} is {state}. KMS keys can be created only in a CONNECTED custom key store."),
    ("CustomKeyStoreInvalidStateException", "RAND-02"): (
        "Custom key store {store} is {state}. GenerateRandom needs a CONNECTED custom key store."),
    ("CustomKeyStoreInvalidStateException", None): (
        "Custom key store {store} is {state}; {operation} is not allowed in this state."),
    ("CustomKeyStoreNameInUseException", None): (
        "Another custom key store in this account and Region has the name in the request."),
    ("CustomKeyStoreHasCMKsException", None): (
        "Custom key store {store} still holds KMS keys. Schedule them for deletion and wait until they are deleted."),
    ("LimitExceededException", None): "The account has as many custom key stores as its quota allows.",
    ("InvalidMarkerException", None): "The Marker is not a NextMarker value from an earlier response.",
}


def text(error: str, rules: tuple[str, ...], why: str, operation: str, state: str, ctx: Any) -> str:
    """The message for one check: its template, else ``why`` as a sentence."""
    rule = rules[0] if rules else None
    template = TEMPLATES.get((error, rule)) or TEMPLATES.get((error, None))
    if template is None:
        return sentence(why.format(state=state))
    return template.format(**_values(ctx, operation, state))


def sentence(phrase: str) -> str:
    """``phrase`` with a capital first letter and a full stop."""
    phrase = phrase.strip()
    if not phrase:
        return phrase
    phrase = phrase[0].upper() + phrase[1:]
    return phrase if phrase.endswith((".", "?", "!")) else phrase + "."


def _values(ctx: Any, operation: str, state: str) -> dict[str, str]:
    params = getattr(ctx, "params", {}) or {}
    key = getattr(ctx, "key", None)
    store = getattr(ctx, "store", None)
    given = params.get("KeyId")
    arn = ids.key_arn(key.key_id) if key is not None else key_arn_of(given)
    return {
        "arn": arn,
        "given": key_arn_of(given) if given is not None else arn,
        "given_store": str(params.get("CustomKeyStoreId", "")),
        "store": ids.store_id(store.store_id) if store is not None else str(params.get("CustomKeyStoreId", "")),
        "state": state,
        "shown": "pending deletion" if state == "PendingDeletion" else "unavailable",
        "operation": operation,
    }


def key_arn_of(given: Any) -> str:
    """A key ID as KMS names it in messages: the key ARN (a bare key ID gets the account's
    ARN prefix); anything else as given."""
    if not isinstance(given, str):
        return "" if given is None else str(given)
    if given.startswith("arn:") or given.startswith("alias/"):
        return given
    return f"arn:aws:kms:{ids.REGION}:{ids.ACCOUNT}:key/{given}"
