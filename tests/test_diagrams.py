"""The generated diagrams: committed files up to date, every table row drawn, CLI errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ckspec.main import main
from ckspec.model import diagrams
from ckspec.model.aws_service import CLOUDHSM_ERROR_CODES
from ckspec.model.transitions import OPERATIONS
from ckspec.model.world import ABSENT

COMMITTED = Path(__file__).resolve().parent.parent / "diagrams"
EDGE = re.compile(r'^  "([^"]+)" -> "([^"]+)" \[label="((?:[^"\\]|\\.)*)"', re.M)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("diagrams")
    diagrams.write_all(out)
    return out


def _edges(dot_text: str) -> dict[tuple[str, str], list[str]]:
    """(from, to) -> label blocks (merged self-loops hold one block per branch)."""
    found: dict[tuple[str, str], list[str]] = {}
    for src, dst, label in EDGE.findall(dot_text):
        found.setdefault((src, dst), []).extend(label.split("\\n\\n"))
    return found


def test_committed_diagrams_are_up_to_date(generated):
    """The diagrams/ folder is what `ckspec diagrams` writes now: regenerate it after a table change."""
    fresh = sorted(p.name for p in generated.iterdir() if p.suffix in (".dot", ".mmd", ".md"))
    assert sorted(p.name for p in COMMITTED.iterdir() if p.suffix in (".dot", ".mmd", ".md")) == fresh
    stale = [name for name in fresh if (COMMITTED / name).read_bytes() != (generated / name).read_bytes()]
    assert not stale, f"run `ckspec diagrams --out diagrams`; out of date: {stale}"


def test_every_dot_has_its_svg_committed():
    """Each committed .dot has the .svg rendered from it (for readers without graphviz)."""
    dots = sorted(COMMITTED.glob("*.dot"))
    assert len(dots) == 3 + len(CLOUDHSM_ERROR_CODES)
    assert [d.name for d in dots if not d.with_suffix(".svg").is_file()] == []


def test_every_store_branch_is_an_edge():
    """TR-01..TR-09, CS-01..CS-08: each Branch of every store operation, in each state it applies
    in, is an edge of the connection-state diagram with its label (guard, effects, rules, alt)."""
    edges = _edges(diagrams.to_dot(diagrams.connection_states()))
    missing = []
    for op in (op for op in OPERATIONS.values() if op.subject in ("store", "new_store")):
        for branch in op.branches:
            block = diagrams.dot_string(diagrams.branch_label(op, branch))[1:-1]
            for state in branch.states:
                target = state if branch.target is None else getattr(branch.target, "value", branch.target)
                if not any(b.endswith(block) for b in edges.get((state, target), [])):
                    missing.append((op.name, branch.name, state, target))
    assert not missing


def test_failed_edges_show_their_error_code():
    """CEC-00..CEC-10, TR-03: every CONNECTING -> FAILED edge names its ConnectionErrorCode."""
    blocks = _edges(diagrams.to_dot(diagrams.connection_states()))[("CONNECTING", "FAILED")]
    codes = {c for c in CLOUDHSM_ERROR_CODES if any(c in b for b in blocks)}
    assert codes == set(CLOUDHSM_ERROR_CODES)
    assert all(any(c in b for c in CLOUDHSM_ERROR_CODES) for b in blocks)


def test_key_diagram_has_creation_deletion_and_visible_state():
    """KEY-01, DK-04, KS-02, KS-03: CreateKey enters Enabled, deletion completes, Unavailable shown."""
    d = diagrams.key_states()
    pairs = {(e.source, e.target) for e in d.edges}
    assert (diagrams.NO_KEY, "Enabled") in pairs and ("PendingDeletion", diagrams.DELETED) in pairs
    labels = {n.id: n.label for n in d.nodes}
    assert "Unavailable" in labels["Enabled"] and "Unavailable" in labels["Disabled"]
    assert "Unavailable" not in labels["PendingDeletion"]


def test_mermaid_labels_escape_syntax():
    """Mermaid output: quotes, pipes, colons, semicolons, hashes and angle brackets never appear
    raw in a label; they become #code; entities, and newlines become <br>."""
    text = diagrams.mermaid_text('a "b" | c: d; #4 <redacted> %% `x`\nnext')
    raw = re.sub(r"#\d+;", "", text.replace("<br>", " "))
    assert not set('"|:;#<>%`') & set(raw)
    assert text.count("<br>") == 1


def test_without_graphviz_dot_and_mermaid_are_still_written(tmp_path, monkeypatch, capsys):
    """No `dot` on the machine: .dot and .mmd are written, no .svg, and one warning line."""
    monkeypatch.setattr(diagrams.shutil, "which", lambda name: None)
    written = diagrams.write_all(tmp_path)
    assert not [p for p in written if p.suffix == ".svg"] and not list(tmp_path.glob("*.svg"))
    assert len(list(tmp_path.glob("*.mmd"))) == len(list(tmp_path.glob("*.dot"))) == 3 + len(CLOUDHSM_ERROR_CODES)
    assert capsys.readouterr().err.strip().splitlines() == [diagrams.DOT_MISSING]


def test_cli_refuses_an_unwritable_folder(capsys):
    """`ckspec diagrams --out` a folder that cannot be written: exit 2, one line, no traceback."""
    code = main(["diagrams", "--out", "/proc/forbidden"])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error:")
    assert "Traceback" not in out + err


def test_cli_writes_the_diagrams(tmp_path, capsys):
    """`ckspec diagrams --out DIR` says how many files it wrote, and where."""
    assert main(["diagrams", "--out", str(tmp_path / "d")]) == 0
    n = len(list((tmp_path / "d").iterdir()))
    assert capsys.readouterr().out.strip() == f"wrote {n} files to {tmp_path / 'd'}"


def test_absent_is_the_no_store_node():
    """CS-01, CREATE-02, DELETE-04: the store's life starts and ends at the "no key store" node."""
    nodes = {n.id: n.label for n in diagrams.connection_states().nodes}
    assert nodes[ABSENT] == "no key store"


def test_summary_has_every_state_change_and_at_most_fifteen_edges():
    """The README's summary: every (from, to) pair that some store branch changes the state
    along is one or more summary edges, no self-loops, and few enough edges to read."""
    summary = diagrams.connection_summary()
    drawn = {(e.source, e.target) for e in summary.edges}
    changes = {(src, dst) for _, _, src, dst in diagrams.store_edges() if src != dst}
    assert drawn == changes
    assert len(summary.edges) <= 15
    assert [e.label for e in summary.edges if e.source == "CONNECTING" and e.target == "FAILED"] == [
        "attempt fails (ConnectionErrorCode)"]


def test_committed_summary_svg_fits_800_px():
    """Legible at README width: the committed summary SVG is at most 1,000 px wide."""
    svg = (COMMITTED / "connection-summary.svg").read_text(encoding="utf-8")
    width = re.search(r'<svg[^>]*width="([0-9.]+)(pt|px)"', svg)
    assert width is not None
    pixels = float(width.group(1)) * (4 / 3 if width.group(2) == "pt" else 1)
    assert pixels <= 1000, f"summary diagram is {pixels:.0f} px wide"
