"""Published outputs as recorded traces, checked with ``ckspec trace check`` (tests/fidelity/traces/).

Each trace holds what a public source shows AWS answered, in the recorded-trace format
(timestamps rewritten to ISO 8601, passwords redacted); the check must find a model world
that explains it, or, for an edited variant, name the rule it breaks.
"""

from __future__ import annotations

import pytest

from fidelity.support import disagrees, evidence, trace_verdict

CLI = "aws/aws-cli awscli/examples/kms/"
FIX = "awsdocs/aws-kms-developer-guide doc_source/fix-keystore.md"
OLD_SHAPE = None  # issue 11 §2 fixed it: an entry published before external key stores lacks CustomKeyStoreType (AMB-38)
XKS = None  # issue 11 §2 fixed it: external key stores are described by ID and by name

#: (trace, kind, source, what it shows, disagreement or None)
SDK = "boto/botocore botocore/data/kms/2014-11-01/examples-1.json"
CONFORMING = [
    ("sdk-describe-by-name", "aws-sdk", SDK + " (DescribeCustomKeyStores, by name)",
     "the SDK's example entry for a CloudHSM store, without CustomKeyStoreType", OLD_SHAPE),
    ("sdk-lifecycle-examples", "aws-sdk", SDK + " (Create, Connect, Disconnect, Update, Delete examples)",
     "the SDK examples in order: create with the doc's cluster ID, connect, disconnect, tell the password, rename, "
     "delete, each answering as shown",
     None),
    ("cli-describe-2020", "aws-cli", CLI + "describe-custom-key-stores.rst (2020 revision)",
     "a CONNECTED CloudHSM store as the CLI example showed it (no CustomKeyStoreType, the field came later)", OLD_SHAPE),
    ("cli-describe-cloudhsm-2022", "aws-cli", CLI + "describe-custom-key-stores.rst (example 1, current)",
     "the current CloudHSM example still has no CustomKeyStoreType", OLD_SHAPE),
    ("guide-invalid-credentials", "guide", FIX + " (How to fix invalid kmsuser credentials)",
     "FAILED with INVALID_CREDENTIALS, in the guide's older entry shape", OLD_SHAPE),
    ("guide-user-locked-out", "guide", FIX + " (How to fix invalid kmsuser credentials)",
     "FAILED with USER_LOCKED_OUT, in the guide's older entry shape", OLD_SHAPE),
    ("cli-describe-xks-by-id", "aws-cli", CLI + "describe-custom-key-stores.rst (example 2)",
     "an external key store described by its ID: XksProxyConfiguration, no cluster, no trust anchor", XKS),
    ("guide-xks-proxy-timed-out", "guide", "awsdocs/aws-kms-developer-guide doc_source/xks-connect-disconnect.md",
     "an external key store described by name, FAILED with XKS_PROXY_TIMED_OUT (its own lifecycle: outside the model, "
     "held to botocore's shapes)", XKS),
    ("guide-xks-vpc-endpoint-service-not-found", "guide",
     "awsdocs/aws-kms-developer-guide doc_source/xks-connect-disconnect.md",
     "an external key store FAILED with XKS_VPC_ENDPOINT_SERVICE_NOT_FOUND, described by name", XKS),
    ("cli-create-with-doc-ids", "aws-cli", CLI + "create-custom-key-store.rst (example 1)",
     "the example's cluster ID cluster-1a23b4cdefg breaks botocore's CloudHsmClusterIdType pattern, yet AWS shows it "
     "accepted: a note, not a failure (AMB-18)",
     None),
    ("sample-connected-store-not-editable", "aws-sample",
     "aws-samples/aws-cloudhsm-cloudformation-template CLOUDHSM-KEY-STORE.md (Inspect the created resources)",
     "a connected CloudHSM key store cannot be edited: a rename refused with CustomKeyStoreInvalidStateException "
     "(AMB-14: the API reference allows it)",
     None),
    ("guide-error-code-after-disconnect", "guide", FIX + " (How to fix invalid kmsuser credentials, steps 1-2)",
     "the repair procedure disconnects first, then reads ConnectionErrorCode from DescribeCustomKeyStores (AMB-11)",
     "model: CS-07 shows ConnectionErrorCode only while FAILED; the guide's repair reads it after Disconnect (AMB-11). "
     "Allowing it 'right after the Disconnect' needs a bound on how long reads lag (AMB-30): a recorded trace never "
     "shows the reads catching up, so the allowance would hide a stale code for ever (the TR-06 seeded bug)"),
    ("sample-issue-12-user-not-found", "aws-sample", "https://github.com/aws-samples/aws-cloudhsm-cloudformation-template"
     "/issues/12", "the sample's calls as the failed stack made them: existence check, create, connect, CONNECTING, "
     "then FAILED with USER_NOT_FOUND for as long as it polled", None),
    ("forum-rotation-status-unsupported", "forum", "https://github.com/ansible-collections/community.aws/pull/311",
     "GetKeyRotationStatus on a CloudHSM key refused with UnsupportedOperationException and AWS's own message", None),
    ("guide-cannot-communicate", "guide", FIX + " (How to respond to a cryptographic operation failure)",
     "Encrypt refused with KMSInvalidStateException, HTTP 400, 'KMS cannot communicate with your CloudHSM cluster' "
     "(the status by the guide; Smithy says 409, AMB-21)", None),
    ("guide-no-hsms-then-connect", "guide", FIX + " (How to fix a connection failure)",
     "a cluster that DescribeClusters shows without HSMs: Connect accepted, then FAILED with "
     "INSUFFICIENT_CLOUDHSM_HSMS (AMB-08: a synchronous refusal is the other documented outcome)", None),
    ("terraform-delete-twice", "iac", "hashicorp/terraform-provider-aws internal/service/kms/custom_key_store.go",
     "destroy of a disconnected store, a repeated delete and the read after it: CustomKeyStoreNotFoundException", None),
    ("cli-update-password-then-connect", "aws-cli", CLI + "update-custom-key-store.rst",
     "tell KMS the kmsuser password of a disconnected store, then connect: CONNECTED", None),
    ("cli-delete-store-with-keys", "aws-cli", CLI + "delete-custom-key-store.rst (note)",
     "a key scheduled for deletion but not yet deleted keeps the store: CustomKeyStoreHasCMKsException", None),
]


def _param(name, kind, source, shows, reason):
    marks = [evidence(kind, source, shows)] + ([disagrees(reason)] if reason else [])
    return pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", [_param(*case) for case in CONFORMING])
def test_published_trace_conforms(name):
    verdict = trace_verdict(name)
    assert verdict["verdict"] == "conforms", verdict.get("failure", {}).get("message")
    assert verdict["checked"] + verdict["skipped"] == verdict["calls"]
