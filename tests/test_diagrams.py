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


def _svg_pixels(svg: str, dimension: str) -> float:
    found = re.search(rf'<svg[^>]*\b{dimension}="([0-9.]+)(pt|px)"', svg)
    assert found is not None, dimension
    return float(found.group(1)) * (4 / 3 if found.group(2) == "pt" else 1)


def test_committed_summary_svg_fits_800_px():
    """Legible at README width: the committed summary SVG is at most 1,000 px wide (and not
    taller than a screen), draws exactly the summary's edges (at most 15), every state a node,
    and its edge labels are at least 10 pt."""
    svg = (COMMITTED / "connection-summary.svg").read_text(encoding="utf-8")
    width, height = _svg_pixels(svg, "width"), _svg_pixels(svg, "height")
    assert width <= 1000, f"summary diagram is {width:.0f} px wide"
    assert height <= 800, f"summary diagram is {height:.0f} px high"
    summary = diagrams.connection_summary()
    drawn = re.findall(r'<g id="edge\d+" class="edge">', svg)
    assert len(drawn) == len(summary.edges) <= 15
    titles = set(re.findall(r'<g id="node\d+" class="node">\s*<title>([^<]+)</title>', svg))
    assert titles == set(diagrams.STORE_STATES)
    sizes = {float(f) for f in re.findall(r'<text [^>]*font-size="([0-9.]+)"', svg)}
    assert min(sizes) >= 10


def test_summary_names_every_operation_between_states():
    """Every (operation, from, to) of the table whose branch changes the state is named on the
    summary edge between those states (an internal event by its wording); the failing attempts,
    one row per ConnectionErrorCode (CEC-00..CEC-10), are one edge."""
    labels = [(e.source, e.target, e.label) for e in diagrams.connection_summary().edges]
    for op, branch, src, dst in diagrams.store_edges():
        if src == dst:
            continue
        wording = op.name if op.kind == "call" else branch.name.split(":")[0]
        assert any(wording in label for s, d, label in labels if (s, d) == (src, dst)), (op.name, src, dst)
    failing = [b for _, b, s, d in diagrams.store_edges() if (s, d) == ("CONNECTING", "FAILED")]
    assert len(failing) >= len(CLOUDHSM_ERROR_CODES)
    assert len([1 for s, d, _ in labels if (s, d) == ("CONNECTING", "FAILED")]) == 1


def test_a_new_row_changes_the_summary(monkeypatch):
    """The summary is derived from the table: a Branch added to an operation (Disconnect on a
    CONNECTED store going straight to DISCONNECTED) is a new edge; one more failing attempt
    (a new ConnectionErrorCode row) is still the one edge."""
    import attrs

    from ckspec.model.transitions import Branch

    before = diagrams.connection_summary().edges
    disconnect = OPERATIONS["DisconnectCustomKeyStore"]
    extra = Branch("disconnects at once", frozenset({"CONNECTED"}), ("TR-05",), target="DISCONNECTED")
    table = dict(OPERATIONS, DisconnectCustomKeyStore=attrs.evolve(disconnect, branches=disconnect.branches + (extra,)))
    monkeypatch.setattr(diagrams, "OPERATIONS", table)
    after = diagrams.connection_summary().edges
    assert set(after) - set(before) == {diagrams.Edge("CONNECTED", "DISCONNECTED", "DisconnectCustomKeyStore")}

    completes = next(op for op in OPERATIONS.values() if any(b.error_code for b in op.branches))
    failing = next(b for b in completes.branches if b.error_code)
    one_more = attrs.evolve(failing, name=failing.name.split(":")[0] + ": NEW_CODE", error_code="NEW_CODE")
    table = dict(OPERATIONS, **{completes.name: attrs.evolve(completes, branches=completes.branches + (one_more,))})
    monkeypatch.setattr(diagrams, "OPERATIONS", table)
    assert diagrams.connection_summary().edges == before


def test_the_errors_per_state_page_is_the_detailed_diagrams_notes():
    """diagrams/connection-errors.md has one table per state with a note, one row per operation,
    the errors of the detailed diagram's note (Check rows), and the rules behind them."""
    page = diagrams.connection_errors_markdown()
    detailed = dict(diagrams.connection_states().notes)
    for state, note in detailed.items():
        title = "no key store yet" if state == ABSENT else state
        section = page.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
        for op, errors in diagrams.state_errors(diagrams.store_operations(), state):
            row = next(line for line in section.splitlines() if line.startswith(f"| {op.name} |"))
            assert all(e in row for e in errors), (state, op.name)
            assert all(r in row for c in op.checks if state in c.states for r in c.rules), (state, op.name)
    assert page.count("\n## ") == len(detailed)
