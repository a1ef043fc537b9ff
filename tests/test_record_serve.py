"""An application team's loop, end to end: a boto3 program runs against ckspec serve (as a
separate process, under ckspec record), drives a store through a failed and a successful
connection, and the recorded trace is checked against the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from ckspec.emulator import serving
from ckspec.main import main

PASSWORD = "AppTeamKmsuser1"

PROGRAM = textwrap.dedent('''
    import json, os, sys, time, urllib.request
    import boto3

    endpoint = os.environ["ENDPOINT"]
    password = os.environ["KMSUSER_PASSWORD"]
    args = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    kms, hsm = boto3.client("kms", **args), boto3.client("cloudhsmv2", **args)

    def control(path, body):  # the emulator's test-control extension (not recorded: not KMS)
        request = urllib.request.Request(endpoint + "/_ckspec/" + path, json.dumps(body).encode(), method="POST")
        return json.load(urllib.request.urlopen(request))

    def state(store):
        return kms.describe_custom_key_stores(CustomKeyStoreId=store)["CustomKeyStores"][0]

    def settle(store):
        for _ in range(10):
            control("wait", {"seconds": 1})
            shown = state(store)
            if shown["ConnectionState"] not in ("CONNECTING", "DISCONNECTING"):
                return shown
        sys.exit("never settled")

    cluster = hsm.create_cluster(HsmType="hsm1.medium", SubnetIds=["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"])["Cluster"]["ClusterId"]
    hsm.create_hsm(ClusterId=cluster, AvailabilityZone="us-east-1a")
    anchor = "-----BEGIN CERTIFICATE-----\\nteam-ca\\n-----END CERTIFICATE-----"
    hsm.initialize_cluster(ClusterId=cluster, SignedCert="signed", TrustAnchor=anchor)
    hsm.create_hsm(ClusterId=cluster, AvailabilityZone="us-east-1b")
    control("environment", {"event": "activate_cluster", "args": [cluster]})
    control("environment", {"event": "create_kmsuser", "args": [cluster, password]})
    store = kms.create_custom_key_store(CustomKeyStoreName="app", CloudHsmClusterId=cluster,
                                        TrustAnchorCertificate=anchor, KeyStorePassword=password)["CustomKeyStoreId"]

    # kmsuser is logged in by a person: the connection fails (CEC-...: USER_LOGGED_IN)
    control("environment", {"event": "kmsuser_logs_in", "args": [cluster]})
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    failed = settle(store)
    assert failed["ConnectionState"] == "FAILED", failed
    print("failed with", failed["ConnectionErrorCode"])

    # the documented fix: log kmsuser out, disconnect, connect again
    control("environment", {"event": "kmsuser_logs_out", "args": [cluster]})
    kms.disconnect_custom_key_store(CustomKeyStoreId=store)
    settle(store)
    kms.connect_custom_key_store(CustomKeyStoreId=store)
    assert settle(store)["ConnectionState"] == "CONNECTED"
    key = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store)["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"hello")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"
    print("connected")
''')


def test_a_program_against_ckspec_serve_recorded_and_checked(tmp_path, capsys):
    script, trace = tmp_path / "app.py", tmp_path / "trace.json"
    script.write_text(PROGRAM)
    with serving(clock="manual") as endpoint:
        env = {**os.environ, "ENDPOINT": endpoint, "KMSUSER_PASSWORD": PASSWORD}
        done = subprocess.run([sys.executable, "-m", "ckspec.main", "record", "-o", str(trace), "--",
                               sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "failed with USER_LOGGED_IN" in done.stdout and "connected" in done.stdout
    text = trace.read_text()
    assert PASSWORD not in text and PASSWORD not in done.stderr
    calls = json.loads(text)["calls"]
    assert {c["service"] for c in calls} == {"kms", "cloudhsmv2"}
    assert any(c.get("response", {}).get("CustomKeyStores", [{}])[0].get("ConnectionErrorCode") == "USER_LOGGED_IN"
               for c in calls if c["operation"] == "DescribeCustomKeyStores")
    capsys.readouterr()
    assert main(["trace", "check", str(trace)]) == 0, capsys.readouterr().out
