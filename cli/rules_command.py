"""ckspec rules (placeholder)."""


def add_parser(sub):
    p = sub.add_parser("rules", help="rules")
    p.set_defaults(run=lambda args: 0)
