"""ckspec run (placeholder)."""


def add_parser(sub):
    p = sub.add_parser("run", help="run")
    p.set_defaults(run=lambda args: 0)
