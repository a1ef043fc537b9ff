"""Each catalogued rule's sources expand to public documentation (issue 12: failures cite the
docs), and `ckspec rules ID` shows one rule whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckspec.main import main
from ckspec.model.catalog import REPO_DIR, rules, where_encoded
from ckspec.model.catalog.sources import cite, source

#: where the keys that are not AWS documentation pages live (AWS's Smithy model, botocore's data)
_REPOSITORIES = {"SMITHY": "https://github.com/aws/api-models-aws/", "botocore": "https://github.com/boto/botocore/"}


def test_every_catalogued_source_key_maps_to_a_public_url():
    """No key of rules.toml is left unmapped: each becomes an https URL, on AWS's documentation
    for the documentation keys, on AWS's or botocore's public repository for the model keys."""
    unmapped = []
    for key in sorted({k for r in rules() for k in r.sources}):
        found = source(key)
        kind = key.split(":")[0]
        where = _REPOSITORIES.get(kind, "https://docs.aws.amazon.com/")
        if not (found.url and found.url.startswith(where) and not set(" *?") & set(found.url)):
            unmapped.append(key)
    assert unmapped == []


def test_a_key_of_an_unknown_kind_is_named_without_a_url():
    found = source("RFC:5280")
    assert (found.key, found.title, found.url) == ("RFC:5280", "RFC:5280", None)


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
    # an error shape has no page of its own: the Errors section of a custom key store operation raising it
    ("SHAPE:CustomKeyStoreInvalidStateException",
     "https://docs.aws.amazon.com/kms/latest/APIReference/API_ConnectCustomKeyStore.html"
     "#API_ConnectCustomKeyStore_Errors"),
    ("SHAPE:CustomKeyStoreHasCMKsException",
     "https://docs.aws.amazon.com/kms/latest/APIReference/API_DeleteCustomKeyStore.html"
     "#API_DeleteCustomKeyStore_Errors"),
    ("API:*", "https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html"),
    ("API:*CustomKeyStore*", "https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html"),
    ("SHAPE:*Exception", "https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html"),
    # a simple type: the member of the data type it is named after
    ("SHAPE:ConnectionStateType", "https://docs.aws.amazon.com/kms/latest/APIReference/API_CustomKeyStoresListEntry.html"
                                  "#KMS-Type-CustomKeyStoresListEntry-ConnectionState"),
    ("CH:ClusterState", "https://docs.aws.amazon.com/cloudhsm/latest/APIReference/API_Cluster.html"
                        "#CloudHSMv2-Type-Cluster-State"),
    ("EX:CreateCustomKeyStore", "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateCustomKeyStore.html"
                                "#API_CreateCustomKeyStore_Examples"),
    ("SMITHY", "https://github.com/aws/api-models-aws/tree/main/models/kms"),
    ("botocore:paginators-1.json",
     "https://github.com/boto/botocore/blob/develop/botocore/data/kms/2014-11-01/paginators-1.json"),
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
    assert "CEC-03 (rule, encoded)" in out and "  group: CEC" in out
    assert ("DG:fix-keystore#fix-keystore-failed: KMS Developer Guide: fix-keystore#fix-keystore-failed "
            "<https://docs.aws.amazon.com/kms/latest/developerguide/fix-keystore.html#fix-keystore-failed>") in out
    # the code and the tests that cite it, with the line numbers that do
    code = where_encoded("CEC-03")["code"]["model/transitions.py"]
    lines = Path(REPO_DIR, "model/transitions.py").read_text().splitlines()
    assert code and all("CEC-03" in lines[n - 1] for n in code)
    assert f"    model/transitions.py:{','.join(map(str, code))}" in out
    assert "  tests that cite it:" in out and "    tests/test_rules_cec.py:" in out


def test_rules_id_shows_why_a_rule_is_not_encoded_and_an_ambiguitys_recommendation(capsys):
    not_encoded = next(r for r in rules() if r.not_applicable_reason)
    ambiguity = next(r for r in rules() if r.kind == "ambiguity" and r.recommendation)
    assert main(["rules", not_encoded.id, ambiguity.id]) == 0
    out = capsys.readouterr().out
    assert f"{not_encoded.id} ({not_encoded.kind}, not_applicable)" in out
    assert f"not encoded: {not_encoded.not_applicable_reason}" in out
    assert f"recommended model behaviour: {ambiguity.recommendation}" in out


def test_rules_id_json_has_sources_and_lines(capsys):
    assert main(["rules", "CONNECT-06", "--json"]) == 0
    [rule] = json.loads(capsys.readouterr().out)["rules"]
    assert any(s["url"] and s["url"].endswith("API_ConnectCustomKeyStore.html") for s in rule["sources"])
    assert rule["code_lines"] and all(isinstance(n, int) for c in rule["code_lines"] for n in c["lines"])
    assert {c["file"] for c in rule["code_lines"]} == set(rule["code"])
    assert {c["file"] for c in rule["tests_lines"]} == set(rule["tests"])


@pytest.mark.parametrize("arg, hint", [("connect06", "did you mean CONNECT-06?"), ("CONECT-06", "CONNECT-06"),
                                       ("banana", "a rule ID looks like CONNECT-06")])
def test_an_unknown_rule_suggests_the_closest(capsys, arg, hint):
    assert main(["rules", arg]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and hint in err


def test_rules_json_includes_sources(capsys):
    assert main(["rules", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["rules"]
    first = next(r for r in listed if r["id"] == "CS-01")
    assert first["sources"][0] == {
        "key": "SHAPE:ConnectionStateType",
        "title": "KMS API Reference: ConnectionStateType, the type of CustomKeyStoresListEntry.ConnectionState",
        "url": "https://docs.aws.amazon.com/kms/latest/APIReference/API_CustomKeyStoresListEntry.html"
               "#KMS-Type-CustomKeyStoresListEntry-ConnectionState"}


@pytest.mark.parametrize("arg", ["CONNECT-" + "99", "connect06", "--"])
def test_unknown_rule_is_one_line_exit_2(capsys, arg):
    code = main(["rules", arg] if arg != "--" else ["rules", "--", "x"])
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("ckspec: error: no such rule")
    assert "Traceback" not in out + err
