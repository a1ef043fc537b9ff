"""An mkdocs hook: links from docs/ to the repository's own files, checked and carried into the site.

The pages under ``docs/`` link to repository files with ``../`` (``../examples/toy_kms.py``,
``../diagrams/connection-states.svg``), so that they work where Markdown is read in a clone or
on the repository's host. mkdocs alone knows only ``docs/``; under ``--strict`` it would refuse
every such link. This hook, named in ``mkdocs.yml``:

* finds every relative link (Markdown ``[text](target)``, ``![alt](target)``, reference
  definitions ``[name]: target`` and HTML ``src=``/``href=``) of every page that leaves ``docs/``;
* refuses, with a warning (a failure under ``--strict``), a target that does not exist, a
  folder (link a file in it), or a path outside the repository (a clone has nothing there);
* copies each target into the site under ``repo/`` (Markdown files become pages there, and
  their own links are followed the same way) and rewrites the link to that copy.

Links inside ``docs/`` are left to mkdocs' own validation.
"""

from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.repo_files")

MIRROR = "repo"
#: the target of an inline Markdown link or image, of a reference definition, or of an HTML
#: src/href attribute
LINK = re.compile(r"(?P<pre>\]\(\s*<?)(?P<target>[^)\s>]+)|(?P<attr>(?:src|href)=\")(?P<html>[^\"]+)"
                  r"|(?P<defpre>^ {0,3}\[[^\]]+\]:\s*<?)(?P<definition>[^\s>]+)", re.M)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_errors: list[str] = []


def _is_relative(target: str) -> bool:
    return not (re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith(("#", "/")))


def _targets(markdown: str) -> list[str]:
    text = FENCE.sub("", markdown)
    found = []
    for m in LINK.finditer(text):
        target = m.group("target") or m.group("html") or m.group("definition")
        if _is_relative(target):
            found.append(target)
    return found


def _resolve(base: Path, target: str) -> Path:
    path = target.split("#", 1)[0].split("?", 1)[0]
    return Path(posixpath.normpath((base / path).as_posix()))


def on_files(files, config):
    """Mirror every repository file the pages link to (following mirrored Markdown files)."""
    _errors.clear()
    docs = Path(config["docs_dir"]).resolve()
    repo = docs.parent
    queue = [(Path(f.abs_src_path), f.src_uri) for f in files if f.is_documentation_page()]
    mirrored: set[Path] = set()
    while queue:
        source, name = queue.pop()
        for target in _targets(source.read_text(encoding="utf-8")):
            path = _resolve(source.parent, target)
            if path.is_relative_to(docs):
                continue  # a docs page or asset: mkdocs validates it
            if not path.is_relative_to(repo):
                _errors.append(f"{name}: link {target!r} leaves the repository (a clone has nothing there)")
            elif not path.exists():
                _errors.append(f"{name}: link {target!r}: no such file in the repository")
            elif path.is_dir():
                _errors.append(f"{name}: link {target!r} is a folder: link a file in it")
            elif path not in mirrored:
                mirrored.add(path)
                uri = f"{MIRROR}/{path.relative_to(repo).as_posix()}"
                files.append(File.generated(config, uri, abs_src_path=str(path)))
                if path.suffix == ".md":
                    queue.append((path, uri))
    for error in _errors:
        log.warning(error)
    return files


def on_page_markdown(markdown, page, config, files):
    """Rewrite the links that leave docs/ to the mirrored copies; report refused links."""
    docs = Path(config["docs_dir"]).resolve()
    repo = docs.parent
    here = page.file.src_uri
    mirrored = here.startswith(MIRROR + "/")
    real_dir = (repo / here.removeprefix(MIRROR + "/")).parent if mirrored else (docs / here).parent

    def rewrite(match: re.Match) -> str:
        pre = match.group("pre") or match.group("attr") or match.group("defpre")
        target = match.group("target") or match.group("html") or match.group("definition")
        if not _is_relative(target):
            return match.group(0)
        path = _resolve(real_dir, target)
        anchor = "#" + target.split("#", 1)[1] if "#" in target else ""
        if path.is_relative_to(docs):
            dest = path.relative_to(docs).as_posix()
        elif path.is_relative_to(repo) and path.is_file():
            dest = f"{MIRROR}/{path.relative_to(repo).as_posix()}"
        else:
            return match.group(0)  # refused in on_files
        new = posixpath.relpath(dest, posixpath.dirname(here) or ".") + anchor
        return pre + new

    parts = re.split(r"(^(?:```|~~~).*?^(?:```|~~~)[^\n]*$)", markdown, flags=re.S | re.M)
    out = "".join(p if p.startswith(("```", "~~~")) else LINK.sub(rewrite, p) for p in parts)
    return out
