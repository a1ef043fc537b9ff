"""docs/testing-kit.md: its tables are what the code generates (ckspec.testing.reference), and
every method, fixture and option it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
from ckspec.testing import FAULTS, Emulator, ReadyAccount, reference, typed_methods
from ckspec.testing import fixtures as kit_fixtures

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing-kit.md"


def test_the_generated_tables_are_up_to_date():
    text = DOC.read_text()
    assert set(reference.blocks(text)) == set(reference.TABLES)
    assert reference.render(text) == text, "run: python -m ckspec.testing.reference docs/testing-kit.md"


def test_the_tables_hold_every_event_method_and_every_code():
    text = DOC.read_text()
    for method in typed_methods():
        assert f"| `{method}(" in text
    for code in FAULTS:
        assert f"| `{code}` | {FAULTS[code].rule} |" in text


def test_a_stale_table_is_noticed():
    text = DOC.read_text().replace("| `log_in_kmsuser(cluster)` |", "| `log_in_kmsuser(cluster, zone)` |")
    assert reference.render(text) != text


def test_an_unknown_generated_table_is_an_error():
    with pytest.raises(ValueError, match="no generated table 'nonsense'"):
        reference.render("<!-- generated: nonsense -->\n<!-- end generated -->")


def test_what_the_page_names_exists():
    text = DOC.read_text()
    for name in re.findall(r"`kit\.(\w+)\(", text):
        assert hasattr(Emulator, name), f"kit.{name} is in the docs but not in Emulator"
    for name in re.findall(r"`(ckspec_\w+)`", text):
        assert name == "ckspec_testing" or hasattr(kit_fixtures, name), name
    fields = attrs.fields_dict(ReadyAccount)
    for name in ("cluster_id", "trust_anchor", "kmsuser_password", "hsm_ids", "zones", "kms", "cloudhsmv2"):
        assert name in fields, name


def test_links_point_at_files_that_exist():
    for link in re.findall(r"\]\((\.\./[^)]+)\)", DOC.read_text()):
        assert (DOC.parent / link).resolve().exists(), link
