"""Every typed flag of every subcommand, found by walking the parser (a new flag is covered the
day it is added), refuses values that cannot work with one line and exit 2, never a traceback
and never by starting the job (issue 14: bad input)."""

from __future__ import annotations

import argparse

import pytest

from ckspec import exit_codes
from ckspec.main import build_parser, main

#: values no typed flag accepts: not a number, negative, not finite, empty, absurdly long
BAD_VALUES = ("x", "-1", "nan", "1e999", "", "9" * 5000)


def _typed_flags() -> list[tuple[tuple[str, ...], str]]:
    found = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, (*path, name))
            elif action.option_strings and (action.type is not None or action.choices):
                found.append((path, action.option_strings[-1]))

    walk(build_parser(), ())
    return found


FLAGS = _typed_flags()


def test_the_walk_finds_the_flags_of_every_subcommand():
    commands = {path[0] for path, _ in FLAGS}
    assert {"check", "explore", "serve", "replay", "scorecard", "record", "trace", "cleanup"} <= commands
    assert len(FLAGS) > 60


@pytest.mark.parametrize(("path", "flag"), FLAGS, ids=[" ".join((*p, f)) for p, f in FLAGS])
def test_a_value_that_cannot_work_is_one_line_and_exit_2(capsys, path, flag):
    for value in BAD_VALUES:
        code = main([*path, f"{flag}={value}"])
        err = capsys.readouterr().err
        assert code == exit_codes.USAGE, (flag, value[:20], err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error:"), (flag, value[:20], err)
        assert "Traceback" not in err and len(err) < 400, (flag, "the value is echoed whole")
