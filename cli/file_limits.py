"""The --max-file-size flag of the commands that read a file back (replay, trace check,
cleanup): a file over the cap is refused with one line (exit 2) before it is parsed."""

from __future__ import annotations

import argparse

#: the same as ckspec.conformance.jsonfile.DEFAULT_MAX_BYTES (not imported: the parser stays light)
DEFAULT_MAX_FILE_SIZE = 64 << 20
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def add_max_file_size(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-file-size", type=file_size, default=DEFAULT_MAX_FILE_SIZE, metavar="SIZE",
                   help=f"refuse an input file larger than this: bytes, or a number with K, M or G (default "
                        f"{DEFAULT_MAX_FILE_SIZE >> 20}M); only regular files are read, never a FIFO or device")


def file_size(text: str) -> int:
    """argparse type: a size in bytes from ``123``, ``512K``, ``64M``, ``1G`` or ``1GiB`` (powers of 1024)."""
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    number, unit = (cleaned[:-1], cleaned[-1]) if cleaned[-1:] in _UNITS and cleaned[-1:] else (cleaned, "")
    try:
        value = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 1048576, 512K, 64M or 1G, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a size of at least 1 byte, got {text!r}")
    return value * _UNITS[unit]
