"""ckspec diagrams (placeholder)."""


def add_parser(sub):
    p = sub.add_parser("diagrams", help="diagrams")
    p.set_defaults(run=lambda args: 0)
