"""ckspec serve speaks KMS's words: no message starts with (or holds) a rule ID; the rules behind
an answer travel in the ``x-ckspec-rules`` header, which the boto3 adapter reads into
``Reply.rules``, as the reference target fills it from the model's outcome (ERR-01)."""

from __future__ import annotations

import attrs
import pytest
from ckspec.conformance import Nonconformance, Session, password
from ckspec.conformance.reference import ReferenceTarget
from ckspec.conformance.wire import BotoTarget
from ckspec.emulator import EmulatorServer, ServeOptions
from ckspec.model import identifiers as ids
from ckspec.model.catalog import RULE_ID, rule_ids
from serve_accounts import client, connected_store, control, error, hsm_key


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(ServeOptions(clock="manual", connect_delay=2.0, lag=0.0), idle_timeout=120) as running:
        yield running


def refusals(server) -> list[tuple[str, str, dict[str, str]]]:
    """Refusals of every kind serve sends: store, key, crypto, plain and CloudHSM calls."""
    control(server, "/reset", {})
    kms, hsm = client(server), client(server, "cloudhsmv2")
    store = connected_store(server, kms)
    key = hsm_key(server, kms, store)
    calls = [
        lambda: kms.describe_custom_key_stores(CustomKeyStoreName="nobody"),
        lambda: kms.connect_custom_key_store(CustomKeyStoreId="cks-1234567890abcdef0"),
        lambda: kms.delete_custom_key_store(CustomKeyStoreId=store),
        lambda: kms.update_custom_key_store(CustomKeyStoreId=store, KeyStorePassword="Another0pw"),
        lambda: kms.create_custom_key_store(CustomKeyStoreName="x"),
        lambda: kms.create_key(CustomKeyStoreId=store, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048"),
        lambda: kms.enable_key_rotation(KeyId=key),
        lambda: kms.cancel_key_deletion(KeyId=key),
        lambda: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=3),
        lambda: kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab"),
        lambda: kms.decrypt(CiphertextBlob=b"not a ciphertext"),
        lambda: kms.generate_random(NumberOfBytes=8, CustomKeyStoreId="cks-1234567890abcdef0"),
        lambda: kms.delete_alias(AliasName="alias/none"),
        lambda: kms.generate_random(),  # RAND-01: NumberOfBytes, which botocore leaves optional
        lambda: hsm.delete_cluster(ClusterId="cluster-aaaaaaaaaaa"),
    ]
    cluster = hsm.describe_clusters()["Clusters"][0]["ClusterId"]
    calls.append(lambda: hsm.delete_cluster(ClusterId=cluster))  # CL-07: it still has HSMs
    kms.disable_key(KeyId=key)
    calls.append(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"))
    return [error(call) for call in calls]


def test_no_message_holds_a_rule_id_and_the_header_names_real_rules(server):
    known = rule_ids()
    cited = set()
    for code, message, headers in refusals(server):
        assert message and not RULE_ID.search(message), (code, message)
        rules = [r.strip() for r in headers.get("x-ckspec-rules", "").split(",") if r.strip()]
        assert set(rules) <= known, rules
        cited.update(rules)
    assert {"DESC-03", "CONNECT-01", "KS-09", "CRYPTO-01", "CL-07", "RAND-01", "AMB-18"} <= cited, cited


def test_published_kms_messages_are_used_verbatim(server):
    control(server, "/reset", {})
    kms = client(server)
    store = connected_store(server, kms)
    key = hsm_key(server, kms, store)
    arn = f"arn:aws:kms:us-east-1:111122223333:key/{key}"
    kms.disable_key(KeyId=key)
    assert error(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"))[1] == f"{arn} is disabled."
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert error(lambda: kms.schedule_key_deletion(KeyId=key))[1] == f"{arn} is pending deletion."
    assert error(lambda: kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab"))[1] == \
        "Key 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' does not exist"


def test_messages_carry_the_callers_region(server):
    control(server, "/reset", {})
    kms = client(server, region="eu-west-3")
    message = error(lambda: kms.describe_key(KeyId="1234abcd-12ab-34cd-56ef-1234567890ab"))[1]
    assert "arn:aws:kms:eu-west-3:" in message and "us-east-1" not in message


def test_the_rules_reach_the_reply_on_both_targets(server):
    reference = ReferenceTarget(0)
    reply = reference.call("DescribeCustomKeyStores", {"CustomKeyStoreName": "nobody"})
    assert reply.error == "CustomKeyStoreNotFoundException" and reply.rules == ("DESC-03",)
    assert not RULE_ID.search(reply.message)
    boto = BotoTarget(endpoint_url=server.url, region="us-east-1", credentials=("test", "test"))
    wire = boto.call("DescribeCustomKeyStores", {"CustomKeyStoreName": "nobody"})
    assert (wire.error, wire.rules, wire.message) == (reply.error, reply.rules, reply.message)


class _StatusBug(ReferenceTarget):
    """ERR-02 broken (409 for CustomKeyStoreInvalidStateException), the cited rules kept."""

    def call(self, operation, params):
        reply = super().call(operation, params)
        return attrs.evolve(reply, status=409) if reply.error == "CustomKeyStoreInvalidStateException" else reply


def test_a_mismatch_names_the_rules_the_target_cites():
    session = Session(_StatusBug(0))
    session.setup()
    cluster = session.world.clusters[0]
    session.call("CreateCustomKeyStore", CustomKeyStoreName="store-a", CloudHsmClusterId=ids.cluster_id(cluster.cluster_id),
                 TrustAnchorCertificate=cluster.trust_anchor, KeyStorePassword=password(0))
    with pytest.raises(Nonconformance) as caught:
        session.call("DisconnectCustomKeyStore", CustomKeyStoreId=ids.store_id(session.world.stores[0].store_id))
    assert "the target cites DISC-02" in caught.value.failure.message
