"""ckspec diagrams: write the state diagrams generated from the model (DOT, Mermaid, SVG)."""

from __future__ import annotations

import argparse

from ckspec.model.diagrams import write_all

from .errors import writable_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagrams", help="write the connection-state, key-state and recovery diagrams")
    p.add_argument("--out", default="diagrams", metavar="DIR", help="output folder (default: diagrams)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    folder = writable_dir(args.out)
    written = write_all(folder)
    print(f"wrote {len(written)} files to {folder}")
    return 0
