"""``ckspec prove``: the table, the JSON report, the traces, exit codes and bad input."""

from __future__ import annotations

import json

import pytest
from ckspec.main import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_prove_json_has_the_documented_fields(capsys, tmp_path):
    code, out, err = _run(capsys, "prove", "--json", "--trace-dir", str(tmp_path))
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data["seconds"], float) and data["ok"] is True
    assert data["scope"]["stores"] == 2 and data["scope"]["clusters"] == 2 and data["scope"]["keys"] == 2
    assert "any number of steps" in data["scope"]["text"]
    for p in data["properties"]:
        assert {"id", "expected", "result", "seconds", "rules"} <= set(p)
        assert p["expected"] in ("holds", "violated") and p["result"] in ("proved", "violated", "unknown")
    by_id = {p["id"]: p for p in data["properties"]}
    assert by_id["N-CONNECTED-HAS-HSM"]["result"] == "violated" and by_id["N-CONNECTED-HAS-HSM"]["counterexample"]
    assert all(p["result"] == "proved" for p in data["properties"] if p["expected"] == "holds")
    assert "counterexample" not in by_id["P-UNIQUE"]
    assert all(r["steps"] is not None for r in data["reachable"]) and len(data["reachable"]) == 18
    # the counterexample is an ITF trace, a DOT drawing (and an SVG when graphviz is there)
    itf = json.loads((tmp_path / "N-CONNECTED-HAS-HSM.itf.json").read_text())
    assert itf["#meta"]["format"] == "ITF" and itf["vars"] == ["account", "stores", "clusters", "keys"]
    assert [s["#meta"]["index"] for s in itf["states"]] == list(range(len(itf["states"])))
    assert itf["states"][-1]["stores"]["0"]["st"] == "CONNECTED"
    assert "digraph" in (tmp_path / "N-CONNECTED-HAS-HSM.dot").read_text()
    assert data["traces"]


def test_traces_never_hold_a_password(capsys, tmp_path):
    """KeyStorePassword is a secret: a trace says whether kmsuser's password matches, nothing more."""
    _run(capsys, "prove", "--mutation", "CONNECT-03-connect-accepted-on-failed", "--json", "--trace-dir", str(tmp_path))
    text = (tmp_path / "P-FAILED-EXIT.itf.json").read_text()
    assert '"password"' not in text and '"user_password"' not in text and '"secrets"' not in text
    assert '"password_matches"' in text


def test_prove_table_and_exit_code(capsys):
    code, out, _err = _run(capsys, "prove")
    assert code == 0
    for pid in ("P-ENTRY-CONNECTED", "P-RECOVERABLE", "N-CONNECTED-HAS-HSM"):
        assert pid in out
    assert "2 stores, 2 clusters, 2 keys" in out and "10 proved, 1 violated, 0 unknown" in out
    assert "not vacuous: 18/18" in out


def test_a_mutated_table_fails_and_names_the_property(capsys):
    code, out, _err = _run(capsys, "prove", "--mutation", "DELETE-02-delete-allowed-with-keys", "--property", "P-NO-ORPHAN-KEYS")
    assert code == 1
    assert "counterexample to P-NO-ORPHAN-KEYS" in out and "DeleteCustomKeyStore" in out and "MUTATED" in out


def test_list_mutations(capsys):
    code, out, _err = _run(capsys, "prove", "--list-mutations")
    assert code == 0 and "CONNECT-03-connect-accepted-on-failed" in out and "P-FAILED-EXIT" in out


@pytest.mark.parametrize("argv", [
    ["prove", "--property", "P-NOPE"],
    ["prove", "--mutation", "nope"],
    ["prove", "--stores", "9"],
    ["prove", "--keys", "0"],
    ["prove", "--bmc-depth", "-1"],
    ["prove", "--proof-profile", "strict"],
    ["prove", "--trace-dir", "/proc/ckspec-cannot-write-here"],
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1, err


def test_a_wrapper_seeded_bug_is_not_a_table_edit(capsys):
    """One catalogue: a seeded bug the proofs cannot see says so, in one line (exit 2)."""
    code, _out, err = _run(capsys, "prove", "--mutation", "TR-01-connect-completes-synchronously")
    assert code == 2 and "not a table edit" in err and len(err.strip().splitlines()) == 1
