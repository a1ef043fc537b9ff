"""The README is a front page and the reference is a documentation site that builds cleanly.

README.md at most 12 KB, every relative link in it resolving to a file of the repository, the
three paths linking into docs/; ``mkdocs build --strict`` passes (a broken link or anchor fails
it, and so does a link from docs/ to a repository file that does not exist or to a path outside
the repository, such as ../shared); every page is in the nav; the commands page lists every
subcommand; the architecture page's room maps are the tree's (tests/rooms.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import rooms
from ckspec.errors import CliError
from ckspec.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|(?:src|href)=\"([^\"]+)\"")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _links(text: str) -> list[str]:
    return [a or b for a, b in LINK.findall(FENCE.sub("", text))]


def _relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^#|^/", target)


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _build(config: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=config.parent)


def test_readme_is_a_front_page_of_at_most_12_kb():
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f"README.md is {size} bytes: move reference material to docs/"


def test_every_relative_link_in_the_readme_is_a_file_of_the_repository():
    targets = [t for t in _links(README.read_text(encoding="utf-8")) if _relative(t)]
    assert len(targets) >= 10
    broken = [t for t in targets if not (ROOT / t.split("#")[0]).resolve().is_file()]
    assert broken == []
    outside = [t for t in targets if not (ROOT / t.split("#")[0]).resolve().is_relative_to(ROOT)]
    assert outside == []


def test_the_readme_has_the_three_paths_into_the_docs():
    text = README.read_text(encoding="utf-8")
    for heading, page in [("I maintain an emulator", "docs/adapters.md"),
                          ("My application uses custom key stores", "docs/testing-kit.md"),
                          ("I gate CI", "docs/ci.md")]:
        section = text.split(f"### {heading}", 1)[1].split("\n#", 1)[0]
        assert f"]({page})" in section, (heading, page)
    assert "](diagrams/connection-summary.svg)" in text
    assert "pip install" in text


def test_no_page_links_outside_the_repository_or_to_a_private_page():
    """A clone has no ../shared; the only links with a scheme are public https pages."""
    for path in [README, ROOT / "mkdocs.yml", *_pages()]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "shared/" not in text, path
        for target in _links(text):
            if not _relative(target) and not target.startswith("#"):
                assert target.startswith("https://") and not re.search(r"localhost|127\.0\.0\.1", target), (path, target)


def test_mkdocs_build_strict_passes(tmp_path):
    done = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    # links from docs/ to repository files are carried into the site
    assert (tmp_path / "site" / "repo" / "examples" / "toy_kms.py").is_file()
    assert (tmp_path / "site" / "repo" / "diagrams" / "connection-summary.svg").is_file()


def test_mkdocs_strict_refuses_broken_and_outside_links(tmp_path):
    """The same configuration on a small project: a missing page, a missing repository file, a
    folder and a path outside the repository each fail the strict build, naming the link."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "present.py").write_text("x = 1\n")
    (tmp_path / "examples").mkdir()
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    config["hooks"] = [str(ROOT / h) for h in config["hooks"]]
    config["nav"] = ["index.md"]
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    good = "# Home\n\n[a file](../present.py) and [the same][same]\n\n[same]: ../present.py\n"
    (tmp_path / "docs" / "index.md").write_text(good)
    done = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "repo" / "present.py").read_text() == "x = 1\n"
    for bad, said in [("[gone](gone.md)", "gone.md"), ("[gone](../gone.py)", "no such file"),
                      ("[dir](../examples/)", "is a folder"), ("[out](../../shared/x.md)", "leaves the repository"),
                      ("[ref][r]\n\n[r]: ../gone.txt", "no such file")]:
        (tmp_path / "docs" / "index.md").write_text(good + bad + "\n")
        done = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
        assert done.returncode != 0 and said in done.stderr, (bad, done.stderr)


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def entries(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from entries(value) if isinstance(value, list) else [value]

    listed = set(entries(config["nav"]))
    present = {p.relative_to(DOCS).as_posix() for p in _pages()}
    assert listed == present
    for page in ["adapters.md", "reference/environment-events.md", "testing-kit.md", "failures-and-rules.md",
                 "ci.md", "install.md", "conformance.md", "serve.md", "proofs.md", "recorded-traces.md",
                 "model.md", "fidelity.md", "architecture.md", "commands.md"]:
        assert page in listed, page


def test_the_commands_page_lists_every_subcommand():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    table = (DOCS / "commands.md").read_text(encoding="utf-8").split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1) for m in re.finditer(r"^\| `ckspec ([a-z]+)", table, re.M)}
    assert rows == set(sub.choices)


def test_the_architecture_room_maps_are_the_tree():
    """The room maps cannot drift: they are generated from the packages and their docstrings."""
    block = rooms.block_of((DOCS / "architecture.md").read_text(encoding="utf-8"))
    assert block is not None, "docs/architecture.md lost its generated room maps"
    assert block == rooms.markdown(), "stale: run python tests/rooms.py --write docs/architecture.md"
    for folder in rooms.packages().values():
        for module in (ROOT / folder).glob("*.py"):
            if module.name != "__main__.py":
                assert f"| `{module.name}` |" in block.split(f"### `{folder}/`", 1)[1].split("### ", 1)[0], module


def test_the_room_maps_follow_a_new_module_and_refuse_one_without_a_docstring(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.setuptools]\npackage-dir = { "demo" = "pkg" }\n')
    (tmp_path / "pkg" / "__init__.py").write_text('"""The demo package. More text."""\n')
    before = rooms.markdown(tmp_path)
    (tmp_path / "pkg" / "ledger.py").write_text('"""What a run created: every store, with ``its`` key. Details."""\n')
    after = rooms.markdown(tmp_path)
    assert before != after and "| `ledger.py` | What a run created: every store, with `its` key |" in after
    (tmp_path / "pkg" / "bare.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="bare.py has no docstring"):
        rooms.markdown(tmp_path)


def test_rooms_check_says_when_the_page_is_stale(tmp_path, capsys):
    page = tmp_path / "architecture.md"
    page.write_text(textwrap.dedent(f"""\
        # Rooms
        {rooms.BEGIN}
        old
        {rooms.END}
        """))
    assert rooms.main(["--check", str(page)]) == 1
    assert "stale" in capsys.readouterr().err
    assert rooms.main(["--write", str(page)]) == 0
    assert rooms.main(["--check", str(page)]) == 0
    assert rooms.main(["--check", str(tmp_path / "missing.md")]) == 2


@pytest.mark.parametrize("page", ["README.md", "docs/conformance.md", "docs/serve.md", "docs/recorded-traces.md",
                                  "docs/proofs.md", "docs/model.md", "docs/fidelity.md"])
def test_every_documented_command_line_parses(page):
    """Each `ckspec ...` line of a shell block is a command the CLI accepts as written (flags
    and values), so the examples cannot drift from the parser."""
    import shlex

    text = (ROOT / page).read_text(encoding="utf-8")
    lines = [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()
             if line.startswith("ckspec ")]
    if page == "README.md":
        assert len(lines) >= 3
    parser = build_parser()
    for line in lines:
        args = shlex.split(line, comments=True)[1:]
        try:
            parser.parse_args(args)
        except (SystemExit, CliError) as e:
            pytest.fail(f"{page}: `{line.split('#')[0].strip()}` is refused by the parser: {e}")
