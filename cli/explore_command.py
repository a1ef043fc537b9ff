"""ckspec explore (placeholder)."""


def add_parser(sub):
    p = sub.add_parser("explore", help="explore")
    p.set_defaults(run=lambda args: 0)
