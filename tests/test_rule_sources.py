"""Each catalogued rule's sources expand to public documentation (issue 12: failures cite the
docs), and `ckspec rules ID` shows one rule whole."""

from __future__ import annotations

import json

import pytest

from ckspec.main import main
from ckspec.model.catalog import rules
from ckspec.model.catalog.sources import cite, source

#: keys that name a source with no page of its own (the Smithy model, botocore's own files)
_NO_PAGE = ("SMITHY", "botocore:")


def test_every_page_source_has_an_https_url_on_aws_docs():
    keys = {k for r in rules() for k in r.sources}
    for key in keys:
        found = source(key)
        if key.split(":")[0] in ("API", "DG", "UG", "EX"):
            assert found.url and found.url.startswith("https://docs.aws.amazon.com/"), key
            assert " " not in found.url, key
        elif key.startswith(_NO_PAGE):
            assert found.url is None and found.title == key


@pytest.mark.parametrize("key, url", [
    ("API:ConnectCustomKeyStore", "https://docs.aws.amazon.com/kms/latest/APIReference/API_ConnectCustomKeyStore.html"),
    ("DG:fix-keystore#fix-keystore-failed",
     "https://docs.aws.amazon.com/kms/latest/developerguide/fix-keystore.html#fix-keystore-failed"),
    ("UG:initialize-cluster", "https://docs.aws.amazon.com/cloudhsm/latest/userguide/initialize-cluster.html"),
    ("SHAPE:CustomKeyStoresListEntry.ConnectionErrorCode",
     "https://docs.aws.amazon.com/kms/latest/APIReference/API_CustomKeyStoresListEntry.html"
     "#KMS-Type-CustomKeyStoresListEntry-ConnectionErrorCode"),
    ("SHAPE:CreateCustomKeyStoreRequest.TrustAnchorCertificate",
     "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateCustomKeyStore.html"
     "#KMS-CreateCustomKeyStore-request-TrustAnchorCertificate"),
    ("CH:DeleteCluster", "https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_DeleteCluster.html"),
    # an error shape has no page of its own: named, not linked
    ("SHAPE:CustomKeyStoreInvalidStateException", None),
])
def test_source_keys_expand(key, url):
    assert source(key).url == url


def test_cite_gives_statement_and_sources():
    statement, sources = cite("CONNECT-06")
    assert "ACTIVE HSM" in statement
    assert any(s.url and s.url.endswith("API_ConnectCustomKeyStore.html") for s in sources)
    assert cite("NOPE-01") == ("", ())


def test_rules_id_shows_statement_sources_code_and_tests(capsys):
    assert main(["rules", "cec-03"]) == 0
    out = capsys.readouterr().out
    assert "CEC-03 (rule, encoded)" in out
    assert "https://docs.aws.amazon.com/kms/latest/developerguide/fix-keystore.html#fix-keystore-failed" in out
    assert "model/transitions.py" in out and "tests/test_rules_cec.py" in out


def test_rules_json_includes_sources(capsys):
    assert main(["rules", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["rules"]
    first = next(r for r in listed if r["id"] == "CS-01")
    assert first["sources"][0] == {"key": "SHAPE:ConnectionStateType",
                                   "title": "KMS service model (botocore): shape ConnectionStateType", "url": None}


@pytest.mark.parametrize("arg", ["CONNECT-" + "99", "connect06", "--"])
def test_unknown_rule_is_one_line_exit_2(capsys, arg):
    code = main(["rules", arg] if arg != "--" else ["rules", "--", "x"])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error: no such rule")
    assert "Traceback" not in out + err
