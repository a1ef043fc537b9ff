"""Reading a JSON file that someone else may have put there: bounded, never blocking.

Every file ckspec reads back (a saved failure trace, a recorded trace, the AWS ledger) comes
through :func:`read_json`, which

* accepts a regular file only: a FIFO, a character device such as ``/dev/zero``, a socket or
  a folder is refused at once, unopened (``stat`` first; then the file is opened
  non-blocking and checked again with ``fstat``, so a FIFO swapped in between cannot hang the
  open, and the check is of the file actually read);
* reads at most ``max_bytes`` (default :data:`DEFAULT_MAX_BYTES`); a larger file, or one
  that grows past the cap while it is read, is refused;
* refuses nesting deeper than :data:`MAX_DEPTH` levels (the parser's own recursion, and the
  recursive code that later walks the document, would otherwise end in ``RecursionError``);
* names the file, and the line, when the bytes are not UTF-8 or not JSON (and refuses what
  the parser refuses besides, such as an integer of more than 4,300 digits, or a lone
  surrogate escape such as ``"\\ud800"``, which no UTF-8 text holds and no terminal prints).

Each refusal is a :class:`JsonFileError` with a one-line message.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: deeper than any trace or ledger ckspec writes (a recorded botocore response nests ~10 levels)
MAX_DEPTH = 200
_MISSING: Any = object()
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class JsonFileError(ValueError):
    """A file that cannot be read as a bounded JSON document (the message is one line)."""


def read_json(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES, missing: Any = _MISSING) -> Any:
    """The JSON document in ``path``; ``missing`` (when given) if there is no such file."""
    data = read_bytes(path, max_bytes=max_bytes, missing=missing)
    if data is missing:
        return missing
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise JsonFileError(f"{path}: not UTF-8 text (byte {exc.start}, line {line})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonFileError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise JsonFileError(f"{path}: JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts (4,300)
        raise JsonFileError(f"{path}: not JSON ckspec can read ({str(exc).split(';')[0]})") from None
    if depth(document) > MAX_DEPTH:
        raise JsonFileError(f"{path}: JSON nested deeper than {MAX_DEPTH} levels")
    escape = _SURROGATE_ESCAPE.search(text)  # only an escape can bring a surrogate into a str
    surrogate = _lone_surrogate(document) if escape else None
    if surrogate is not None:
        first = re.search(rf"\\u{ord(surrogate):04x}", text, re.IGNORECASE) or escape
        raise JsonFileError(f"{path}: not valid text: a lone surrogate \\u{ord(surrogate):04x} "
                            f"(line {text.count(chr(10), 0, first.start()) + 1})")
    return document


def read_bytes(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES, missing: Any = _MISSING) -> Any:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        _regular(path, os.stat(path).st_mode)  # a device is not even opened (opening some has effects)
        fd = os.open(path, flags)
    except FileNotFoundError:
        if missing is not _MISSING:
            return missing
        raise JsonFileError(f"cannot read {str(path)!r}: no such file") from None
    except OSError as exc:
        raise JsonFileError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        _regular(path, info.st_mode)
        if info.st_size > max_bytes:
            raise JsonFileError(_too_large(path, info.st_size, max_bytes))
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise JsonFileError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise JsonFileError(_too_large(path, size, max_bytes, growing=True))
    return b"".join(chunks)


def depth(document: Any) -> int:
    """How deeply lists and objects nest in ``document`` (a scalar is 0; counting stops past
    :data:`MAX_DEPTH`): level by level, without recursion."""
    level, deepest = ([document] if isinstance(document, (dict, list)) else []), 0
    while level and deepest <= MAX_DEPTH:
        deepest += 1
        below = []
        for value in level:
            for child in (value.values() if isinstance(value, dict) else value):
                if type(child) is dict or type(child) is list:  # what json.loads makes
                    below.append(child)
        level = below
    return deepest


def _lone_surrogate(document: Any) -> str | None:
    """The first lone surrogate in a string or key: JSON's ``\\ud800`` escapes allow one, no
    UTF-8 text holds one, and no terminal prints it."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found:
                return found.group()
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


def _regular(path: str | os.PathLike[str], mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "of another kind")
    raise JsonFileError(f"cannot read {str(path)!r}: it is {kind}, not a regular file")


def _too_large(path: str | os.PathLike[str], size: int, cap: int, growing: bool = False) -> str:
    how = "grew past" if growing else f"is {size:,} bytes, over"
    return f"{Path(path)}: the file {how} the size cap of {cap:,} bytes"
