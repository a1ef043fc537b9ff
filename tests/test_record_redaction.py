"""KU-04 in recordings: a kmsuser password never reaches a trace, whatever form it takes (a value
that is not a string, a program argument in any of its command-line spellings), and a redacted
password keeps what the checker needs to judge the request (its type, AMB-18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ParamValidationError
from ckspec.conformance import recorded
from ckspec.conformance.observer import check_trace
from ckspec.conformance.record_hook import ckspec_record_hook as hook
from ckspec.conformance.recording import _SEARCHED, _scrub_argument, _trace_from_lines, recording
from ckspec.emulator import serving
from ckspec.main import main

NUMBER = 12345678
SECRET = "Sekr1t=Kmsuser"  # with an "=", the hardest case for --flag=value

#: a boto3 program, client-side validation off, sending a number as the password (taken from argv)
PROGRAM = textwrap.dedent('''
    import os, sys, boto3
    from botocore.config import Config
    kms = boto3.client("kms", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x",
                       config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    kms.describe_custom_key_stores()
    try:
        kms.create_custom_key_store(CustomKeyStoreName="n", CloudHsmClusterId="cluster-234567abcdefg",
                                    TrustAnchorCertificate="x", KeyStorePassword=int(sys.argv[1]))
    except kms.exceptions.ClientError as exc:
        print(exc.response["Error"]["Code"])
''')


def test_a_password_that_is_not_a_string_is_recorded_with_its_type_and_judged_as_sent(tmp_path, capsys):
    """Recorded against ckspec serve, which answers ValidationException (AMB-18): the trace keeps
    the password's type, not its value, and the check finds the answer conformant, having judged
    the call against the model (not skipped)."""
    script, trace = tmp_path / "number.py", tmp_path / "trace.json"
    script.write_text(PROGRAM, encoding="utf-8")
    with serving(clock="manual") as endpoint:
        done = subprocess.run([sys.executable, "-m", "ckspec.main", "record", "-o", str(trace), "--",
                               sys.executable, str(script), str(NUMBER)],
                              env={**os.environ, "ENDPOINT": endpoint, "TMPDIR": str(tmp_path)},
                              capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ValidationException"
    text = trace.read_text(encoding="utf-8")
    assert str(NUMBER) not in text and str(NUMBER) not in done.stderr
    create = json.loads(text)["calls"][1]
    assert create["request"]["KeyStorePassword"] == {"redacted": "password(1)", "type": "integer"}
    assert create["error"]["code"] == "ValidationException"
    assert json.loads(text)["program"][-1] == "[redacted password(1)]"
    capsys.readouterr()
    assert main(["trace", "check", str(trace)]) == 0
    assert "2 checked against the model, 0 outside it" in " ".join(capsys.readouterr().out.split())


def test_a_service_that_accepts_a_password_that_is_not_a_string_does_not_conform(tmp_path):
    """AMB-18: a number for KeyStorePassword is a validation error; a 200 for it is a broken rule."""
    lines = [json.dumps({"service": "kms", "operation": "CreateCustomKeyStore", "request": {
        "CustomKeyStoreName": "n", "CloudHsmClusterId": "cluster-234567abcdefg", "TrustAnchorCertificate": "x",
        "KeyStorePassword": hook.Recorder("", b"k" * 32).password_alias(NUMBER)},
        "response": {"CustomKeyStoreId": "cks-1234567890abcdef0"}})]
    trace, damaged = _trace_from_lines(lines, None, None)
    assert damaged == 0
    verdict = check_trace(trace)
    assert verdict.failure is not None and "AMB-18" in verdict.failure.rules


@pytest.mark.parametrize("value, kind", [
    (NUMBER, "integer"), (1.5, "number"), (True, "boolean"), (b"bytes", "bytes"), (["a"], "list"),
    ({"a": 1}, "object"), (object(), "other"), ("a string", None)])
def test_a_redacted_password_keeps_the_type_of_what_was_sent(value, kind):
    alias = hook.Recorder("", b"k" * 32).password_alias(value)
    assert alias.get("type") == kind and set(alias) == ({"redacted", "type"} if kind else {"redacted"})
    read = recorded._typed({"redacted": "password(3)", **({"type": kind} if kind else {})},
                           recorded.SERVICES["kms"]().operation_model("CreateCustomKeyStore").input_shape
                           .members["KeyStorePassword"], "here")
    assert hook.value_kind(read) == (kind or "string")


def test_every_password_type_the_hook_writes_can_be_read():
    assert set(hook.PASSWORD_TYPES) == set(recorded._PLACEHOLDERS)


def test_an_unknown_password_type_in_a_trace_is_a_one_line_error(tmp_path, capsys):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"format": "ckspec-recorded-trace", "version": 1, "calls": [{
        "service": "kms", "operation": "UpdateCustomKeyStore",
        "request": {"CustomKeyStoreId": "cks-1234567890abcdef0",
                    "KeyStorePassword": {"redacted": "password(1)", "type": "secret"}},
        "response": {}}]}), encoding="utf-8")
    assert main(["trace", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a redacted password's type must be one of" in err


def test_a_number_password_in_botocore_s_own_validation_message_is_redacted(tmp_path):
    """With client-side validation on, botocore's ParamValidationError quotes the value."""
    kms = boto3.client("kms", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                       config=Config(retries={"max_attempts": 1}))
    with recording(tmp_path / "t.json") as rec, pytest.raises(ParamValidationError):
        kms.update_custom_key_store(CustomKeyStoreId="cks-0987654321abcdef0", KeyStorePassword=NUMBER)
    (call,) = rec.trace.calls
    assert call.exception is not None and "[redacted password(1)]" in call.exception.message
    assert str(NUMBER) not in (tmp_path / "t.json").read_text(encoding="utf-8")


def test_a_number_password_is_scrubbed_as_a_whole_word_only():
    """The digits of a number password inside an identifier stay (a trace with broken identifiers
    could not be checked); as a word of its own, in a message, they go."""
    recorder = hook.Recorder("", b"k" * 32)
    recorder.password_alias(NUMBER)
    scrubbed = recorder.scrub(f"cks-{NUMBER}90abcdef0 refused {NUMBER}: not a string")
    assert scrubbed.startswith(f"cks-{NUMBER}90abcdef0 refused [redacted password:") and scrubbed.count(str(NUMBER)) == 1
    recorder.password_alias(str(NUMBER))  # the same text sent as a string: anywhere
    assert str(NUMBER) not in recorder.scrub(f"cks-{NUMBER}90abcdef0")


# --- the recorded program's arguments --------------------------------------------------------------

def _scrubbed(*argv: str, password: object = SECRET) -> tuple[str, ...]:
    """``argv`` as a trace whose one call sent ``password`` writes it."""
    key = b"k" * 32
    line = json.dumps({"service": "kms", "operation": "UpdateCustomKeyStore", "request": {
        "CustomKeyStoreId": "cks-1234567890abcdef0",
        "KeyStorePassword": hook.Recorder("", key).password_alias(password)}, "response": {}})
    trace, _ = _trace_from_lines([line], argv, key)
    assert trace.program is not None
    return trace.program


@pytest.mark.parametrize("argv, expected", [
    (("--pw", SECRET), ("--pw", "[redacted password(1)]")),
    (("--pw=" + SECRET,), ("--pw=[redacted password(1)]",)),
    (("-p" + SECRET,), ("-p[redacted password(1)]",)),
    (("-p", SECRET), ("-p", "[redacted password(1)]")),
    (("-vp" + SECRET,), ("-vp[redacted password(1)]",)),
    ((SECRET,), ("[redacted password(1)]",)),
    (("--key-store-password", SECRET), ("--key-store-password", "[redacted password(1)]")),
    (("--config", f"user=kmsuser,password={SECRET},retry=3"),
     ("--config", "user=kmsuser,password=[redacted password(1)],retry=3")),
    (("--pw=" + SECRET + SECRET,), ("--pw=[redacted password(1)][redacted password(1)]",)),
])
def test_every_command_line_form_of_a_password_is_scrubbed(argv, expected):
    assert _scrubbed("aws", *argv) == ("aws", *expected)


def test_a_number_password_on_the_command_line_is_scrubbed():
    assert _scrubbed("prog", "--pin", str(NUMBER), f"-n{NUMBER}", password=NUMBER) == \
        ("prog", "--pin", "[redacted password(1)]", "-n[redacted password(1)]")


def test_arguments_that_hold_no_password_are_kept():
    argv = ("python", "app.py", "--pw=other-value", "-psomething", "Sekr1t", "=Kmsuser")
    assert _scrubbed(*argv) == argv
    assert _scrub_argument("--pw=" + SECRET, None, {}) == "--pw=" + SECRET  # no key: nothing was recorded


def test_arguments_past_the_search_budget_are_replaced_whole():
    """Searching costs a digest per piece: past the budget an argument is not searched but dropped,
    so a password in it cannot get through."""
    long = "x" * (_SEARCHED - 10) + SECRET
    small = f"--pw={SECRET}"
    assert _scrubbed("prog", small, long, "--verbose") == (
        "prog", "--pw=[redacted password(1)]",
        f"[an argument of {len(long)} characters, too long to search for passwords]", "--verbose")
    within = "x" * (_SEARCHED - 30) + SECRET
    assert _scrubbed("prog", within) == ("prog", "x" * (_SEARCHED - 30) + "[redacted password(1)]")
