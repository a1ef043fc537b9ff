# ruff: noqa: UP004, UP017, UP031  (this file also runs on old Pythons)
"""Record the KMS and CloudHSM v2 calls botocore makes in this process, one JSON line each.

This module is loaded in two ways: by ``ckspec record`` in the program it runs (through the
``sitecustomize`` beside it, on that program's PYTHONPATH), and by
:func:`ckspec.conformance.recording.recording` in the current process. The program may run
in another virtual environment that has botocore but not ckspec, so this file needs nothing
but the standard library (botocore is only patched, once something imports it) and runs on
old Pythons too.

Every call of ``botocore.client.BaseClient._make_api_call`` for ``kms`` or ``cloudhsmv2``
appends one line to the spool file as soon as the call returns or raises: the operation,
the request, and the parsed response, the error (code, message, HTTP status) or the
exception. One ``write`` per line on a file opened for appending, so a program that
crashes or is killed loses nothing already answered, and processes that share a spool do
not interleave their lines.

Secrets never reach the spool. A ``KeyStorePassword`` is written as
``{"redacted": "password:<digest>"}``, an HMAC of the value under a key that lives only in
the recording's processes' memory, so the same password gets the same digest in every
process of one recording and nothing can be learnt from the digest once the key is gone;
the final trace renumbers the digests as ``password(1)``, ``password(2)``, ... A password
that is not a string (a program that turned botocore's validation off can send a number)
keeps its kind, ``{"redacted": "password:<digest>", "type": "integer"}``, and nothing else of
its value. Any other member botocore marks sensitive (``Plaintext``, external key store credentials) is written
as ``{"redacted": "sensitive"}`` (with ``"length"`` for bytes). A password that turns up
inside any other string (an error message, say) is replaced there as well (one that was not a
string, as a whole word only: the digits of a number password inside an identifier stay).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import sys
import threading

try:
    from urllib.parse import urlsplit, urlunsplit
except ImportError:  # Python 2
    from urlparse import urlsplit, urlunsplit

#: the services recorded (botocore's service names)
SERVICES = ("kms", "cloudhsmv2")
#: request members whose values are kmsuser passwords: written as aliases
PASSWORD_MEMBERS = frozenset(["KeyStorePassword"])
#: the kinds of value a redacted password may have been (``"type"``; absent for a string)
PASSWORD_TYPES = ("string", "integer", "number", "boolean", "bytes", "list", "object", "other")
#: environment variables ``ckspec record`` passes to the program
SPOOL_VARIABLE = "CKSPEC_RECORD_SPOOL"
KEY_VARIABLE = "CKSPEC_RECORD_KEY"

_PATCH_MARK = "_ckspec_recorders"


class Recorder(object):
    """Writes one JSON line per recorded call to a spool file."""

    def __init__(self, spool, key):
        self.spool = spool
        self._key = key
        self._secrets = {}  # password value -> digest, in memory only
        self._strings = set()  # the passwords sent as strings
        self._words = set()  # the texts of passwords sent only as other values (a number): whole words
        self._lock = threading.Lock()
        self.active = True
        self._warned = False

    # --- redaction ---------------------------------------------------------------------------
    def password_alias(self, value):
        """The alias of a password: a keyed digest of its text (``repr`` for a value that is
        not a string, so that the same number typed on a command line gets the same digest),
        with the value's JSON kind as ``"type"`` when it is not a string (the kind decides how
        the service must answer; the value is never written)."""
        text = value if isinstance(value, str) else repr(value)
        kind = value_kind(value)
        digest = self._secrets.get(text)
        with self._lock:
            if digest is None:
                digest = self._secrets[text] = self.digest(text)
            if kind == "string":
                self._strings.add(text)
                self._words.discard(text)
            elif text not in self._strings:
                self._words.add(text)
        alias = {"redacted": "password:" + digest}
        if kind != "string":
            alias["type"] = kind
        return alias

    def digest(self, text):
        """The keyed digest of a password's text (16 hex digits)."""
        return hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]

    def scrub(self, text):
        """``text`` with every password this process has seen replaced by its alias."""
        if not isinstance(text, str):
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            if not secret or secret not in text:
                continue
            alias = "[redacted password:%s]" % self._secrets[secret]
            if secret in self._words:  # a number's digits inside an identifier are not the number
                text = re.sub("(?<![0-9A-Za-z])%s(?![0-9A-Za-z])" % re.escape(secret), alias, text)
            else:
                text = text.replace(secret, alias)
        return text

    # --- the record ----------------------------------------------------------------------------
    def entry(self, service_model, operation, params, started, outcome, region=None, end=None, endpoint=None):
        """One call as a JSON object. ``outcome`` is ``("response", body)``, ``("error",
        botocore's error response)`` or ``("exception", the exception)``; ``endpoint`` is the
        URL the call went to (without any user name, password, query or fragment)."""
        op_model = service_model.operation_model(operation)
        entry = {
            "service": service_model.service_name,
            "operation": operation,
            "region": region,
            "endpoint": endpoint_address(endpoint),
            "time": started,
            "end": end or _now(),
            "request": self._value(params, op_model.input_shape),
        }
        kind, value = outcome
        if kind == "response":
            body = dict(value or {})
            body.pop("ResponseMetadata", None)
            entry["response"] = self._value(body, op_model.output_shape)
        elif kind == "error":
            error = value.get("Error", {}) if isinstance(value, dict) else {}
            meta = value.get("ResponseMetadata", {}) if isinstance(value, dict) else {}
            entry["error"] = {"code": self.scrub(str(error.get("Code", ""))),
                              "message": self.scrub(str(error.get("Message", ""))),
                              "status": meta.get("HTTPStatusCode")}
        else:
            entry["exception"] = {"type": type(value).__name__, "message": self.scrub(str(value))}
        return entry

    def record(self, client, operation, params, started, outcome):
        """Append one call; never raises (a recording problem must not break the program)."""
        try:
            entry = self.entry(client.meta.service_model, operation, params, started, outcome,
                               region=getattr(client.meta, "region_name", None),
                               endpoint=getattr(client.meta, "endpoint_url", None))
            line = json.dumps(entry, ensure_ascii=True) + "\n"
            with self._lock:
                fd = os.open(self.spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("ascii"))
                finally:
                    os.close(fd)
        except Exception as exc:  # noqa: BLE001 - the program comes first
            if not self._warned:
                self._warned = True
                sys.stderr.write("ckspec record: a call could not be recorded (%s)\n" % type(exc).__name__)

    def _value(self, value, shape, member=None):
        """A JSON value for ``value`` (shape-directed where the shape is known)."""
        if member in PASSWORD_MEMBERS and value is not None:
            return self.password_alias(value)
        if shape is not None and shape.metadata.get("sensitive") and value is not None:
            if isinstance(value, (bytes, bytearray)):
                return {"redacted": "sensitive", "length": len(value)}
            return {"redacted": "sensitive"}
        type_name = getattr(shape, "type_name", None)
        if isinstance(value, dict):
            members = getattr(shape, "members", {}) if type_name == "structure" else {}
            inner = getattr(shape, "value", None) if type_name == "map" else None
            out = {}
            for k, v in value.items():
                sub = members.get(k) if type_name == "structure" else inner
                out[str(k)] = self._value(v, sub, k if type_name == "structure" else None)
            return out
        if isinstance(value, (list, tuple)):
            item = getattr(shape, "member", None) if type_name == "list" else None
            return [self._value(v, item) for v in value]
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(bytes(value)).decode("ascii")
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            return value.isoformat()
        if isinstance(value, str):
            return self.scrub(value)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if hasattr(value, "read"):
            return {"redacted": "stream"}
        return self.scrub(repr(value))


def endpoint_address(url):
    """Where a call went: scheme, host, port and path of the endpoint URL, never a user name or
    password in it (``https://user:secret@host`` is ``https://host``), nor a query or fragment;
    None when there is no URL."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = "[%s]" % host
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    netloc = host if port is None else "%s:%d" % (host, port)
    return urlunsplit((parts.scheme.lower(), netloc.lower(), parts.path.rstrip("/"), "", ""))


def value_kind(value):
    """A value's JSON kind, as a redacted password's ``"type"`` names it (one of PASSWORD_TYPES)."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    for types, kind in ((int, "integer"), (float, "number"), ((bytes, bytearray), "bytes"),
                        ((list, tuple), "list"), (dict, "object")):
        if isinstance(value, types):
            return kind
    return "other"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


# --- patching botocore -----------------------------------------------------------------------------


def _patch(client_module):
    """Wrap ``BaseClient._make_api_call`` once; every active recorder sees every call."""
    base = client_module.BaseClient
    if getattr(base._make_api_call, _PATCH_MARK, None) is not None:
        return
    original = base._make_api_call
    recorders = []
    client_error = __import__("botocore.exceptions", fromlist=["ClientError"]).ClientError

    def _make_api_call(self, operation_name, api_params):
        listening = [r for r in recorders if r.active]
        try:
            service = self.meta.service_model.service_name
        except Exception:  # noqa: BLE001
            service = None
        if not listening or service not in SERVICES:
            return original(self, operation_name, api_params)
        started = _now()
        try:
            result = original(self, operation_name, api_params)
        except client_error as exc:
            for r in listening:
                r.record(self, operation_name, api_params, started, ("error", getattr(exc, "response", {})))
            raise
        except Exception as exc:
            for r in listening:
                r.record(self, operation_name, api_params, started, ("exception", exc))
            raise
        for r in listening:
            r.record(self, operation_name, api_params, started, ("response", result))
        return result

    setattr(_make_api_call, _PATCH_MARK, recorders)
    _make_api_call.__wrapped__ = original
    base._make_api_call = _make_api_call


def _recorders():
    client_module = sys.modules.get("botocore.client")
    if client_module is None:
        return None
    return getattr(client_module.BaseClient._make_api_call, _PATCH_MARK, None)


class _PatchOnImport(object):
    """A meta path finder that patches ``botocore.client`` right after it is first imported,
    so a program that never imports botocore does not pay for it."""

    def __init__(self, on_import):
        self.on_import = on_import

    def find_spec(self, name, path=None, target=None):
        if name != "botocore.client":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        finder_self = self

        class _Loader(object):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                if finder_self in sys.meta_path:
                    sys.meta_path.remove(finder_self)
                finder_self.on_import(module)

            def __getattr__(self, attr):
                return getattr(loader, attr)

        spec.loader = _Loader()
        return spec


def attach(recorder):
    """Start recording with ``recorder``: now if botocore is loaded, else as soon as it is."""

    def on_import(client_module):
        _patch(client_module)
        if recorder.active:
            _recorders().append(recorder)

    if "botocore.client" in sys.modules:
        on_import(sys.modules["botocore.client"])
    else:
        sys.meta_path.insert(0, _PatchOnImport(on_import))


def detach(recorder):
    """Stop recording with ``recorder`` (the patch stays, passing calls straight through)."""
    recorder.active = False
    found = _recorders()
    if found is not None and recorder in found:
        found.remove(recorder)


def start_from_environment():
    """What ``sitecustomize`` calls in a program ``ckspec record`` runs."""
    spool = os.environ.get(SPOOL_VARIABLE)
    key = os.environ.get(KEY_VARIABLE)
    if not spool or not key:
        return None
    recorder = Recorder(spool, bytes.fromhex(key))
    attach(recorder)
    return recorder
