"""Whether a reply gives a kmsuser password away (KU-04, DESC-05), verbatim or not.

KMS never returns the ``KeyStorePassword`` (KU-04: "Describe never returns it"; DESC-05: an
entry has no password). A reply leaks it when

- a member's *name* mentions a password (``KeyStorePassword``, ``password``, ``kmsuserPassword``)
  or an external key store's secret (``RawSecretAccessKey``, XKS-04), whatever its value;
- a value (or the error message) holds a password verbatim, or in a common encoding: base64
  (standard or URL-safe, padded or not, also inside a longer base64 value), hex (either case),
  or URL-encoding (``%50%61...``).

What is found is described by *where* and *how*, never by the value: a failure message must
not repeat the secret it found.
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import unquote

_PASSWORD_NAME = re.compile(r"pass(word|wd|phrase)|secretaccesskey", re.IGNORECASE)
#: a member name in a body's repr that mentions a password (confirmed by walking the body)
_NAME_IN_REPR = re.compile(r"""['"][^'"]*(?:pass(?:word|wd|phrase)|secretaccesskey)[^'"]*['"]:""", re.IGNORECASE)


def _base64_cores(raw: bytes) -> list[str]:
    """What base64 of any byte string holding ``raw`` shows of it, at each of the three byte
    alignments: the groups that encode only bytes of ``raw`` (the first and last, which mix in
    neighbouring bytes, are left out)."""
    cores = []
    for offset in range(3):
        text = base64.b64encode(b"\0" * offset + raw).decode()
        first = 4 if offset else 0
        last = (offset + len(raw)) // 3 * 4
        core = text[first:last]
        if len(core) >= 8:
            cores.append(core)
    return cores


@functools.lru_cache(maxsize=64)
def _forms(secret: str) -> tuple[tuple[str, str], ...]:
    """The secret as it shows verbatim and in each encoding, each a substring to search for."""
    raw = secret.encode()
    forms = [("verbatim", secret), ("hex", raw.hex()), ("hex", raw.hex().upper()),
             ("URL-encoded", "".join(f"%{b:02X}" for b in raw)), ("URL-encoded", "".join(f"%{b:02x}" for b in raw))]
    for core in _base64_cores(raw):
        forms += [("base64", core), ("base64", core.translate(_URLSAFE))]
    return tuple(dict.fromkeys(forms))


_URLSAFE = str.maketrans("+/", "-_")


def _walk(value: Any, where: str) -> Iterator[tuple[str, Any, bool]]:
    """(path, value, is_member_name) for every member name and leaf value of a reply body."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            yield path, key, True
            yield from _walk(item, path)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{where}[{i}]")
    else:
        yield where, value, False


def find_leak(message: str, body: Any, secrets: Iterable[str]) -> str | None:
    """Where and how a reply holds one of ``secrets`` (a phrase that names no secret), or None.

    One pass over the text of the reply finds whether anything leaks (substring searches, the
    cost of the verbatim check it replaces); only then is the body walked to say where."""
    forms = [f for s in secrets if s for f in _forms(s)]
    if not forms:
        return None
    text = f"{message}\n{body!r}"
    named = _NAME_IN_REPR.search(text) is not None
    if not named and not any(form in text for _, form in forms) and "%" not in text:
        return None
    for path, value, is_name in _walk(body, ""):
        if is_name:
            if isinstance(value, str) and _PASSWORD_NAME.search(value):
                return f"the reply has a member named {value!r} (at {path})"
        else:
            how = _held(value, forms)
            if how:
                return f"{path or 'the body'} holds a kmsuser password ({how})"
    how = _held(message, forms)
    return f"the error message holds a kmsuser password ({how})" if how else None


def _held(value: Any, forms: list[tuple[str, str]]) -> str | None:
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            value = bytes(value).decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
            return None
    if not isinstance(value, str):
        return None
    for how, form in forms:
        if form in value:
            return how
    if "%" in value:  # percent-encoding of some characters only
        plain = unquote(value)
        if plain != value:
            for how, form in forms:
                if how == "verbatim" and form in plain:
                    return "URL-encoded"
    return None
