"""The kmsuser crypto user: its password, its session and the manual-work procedure (KU-01..KU-10)."""

from __future__ import annotations

import pytest

from ckspec.model import identifiers as ids
from ckspec.model.executor import NotEnabled
from ckspec.model.scenarios import KMSUSER_PASSWORD, Driver, healthy_account
from ckspec.model.world import Secret


def _store(d, sid):
    return d.world.store(ids.parse_store_id(sid))


def test_kmsuser_is_an_ordinary_backed_up_cu():
    """KU-01, CEC-10: kmsuser lives in the cluster and is included in its backups (a restored cluster has it);
    a cluster without kmsuser cannot be connected (USER_NOT_FOUND)."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.env("backup_cluster", cid)
    assert d.world.backups[0].kmsuser == d.world.cluster(cid).kmsuser
    d.env("restore_backup", d.world.backups[0].backup_id)
    assert d.world.clusters[-1].kmsuser.password == KMSUSER_PASSWORD
    d.env("delete_kmsuser", cid)
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "USER_NOT_FOUND"


def test_create_accepts_unchecked_credentials():
    """KU-02, CREATE-02: Create succeeds whatever the kmsuser situation; problems appear only at Connect."""
    d = Driver(healthy_account())
    d.env("delete_kmsuser", d.cluster_serial())
    sid = d.create_store(KeyStorePassword="Whatever123")
    assert d.describe(sid)["ConnectionState"] == "DISCONNECTED"
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "USER_NOT_FOUND"


def test_two_factor_blocks_connection():
    """KU-03: kmsuser with two-factor authentication cannot be logged in by KMS: the store cannot connect."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.env("kmsuser_enables_2fa", d.cluster_serial())
    d.connect(sid)
    assert d.describe(sid)["ConnectionState"] == "FAILED"


@pytest.mark.parametrize("password", ["abc!@#%", "x" * 32, "Only-Ascii_But*Special~32chars!!"])
def test_key_store_password_only_informs_kms(password):
    """KU-04: KeyStorePassword accepts 7-32 characters of any kind, only tells KMS the password (the cluster's
    kmsuser password is untouched by Create and Update) and is never returned by Describe."""
    d = Driver(healthy_account())
    cid = d.cluster_serial()
    sid = d.create_store(KeyStorePassword=password)
    assert d.world.cluster(cid).kmsuser.password == KMSUSER_PASSWORD
    assert _store(d, sid).password == password
    assert d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword=password[::-1]).response.ok
    assert d.world.cluster(cid).kmsuser.password == KMSUSER_PASSWORD
    body = d.call("DescribeCustomKeyStores").response.body
    assert password not in repr(body) and password[::-1] not in repr(body)


def test_session_held_while_connected():
    """KU-05: while CONNECTED nobody can log in as kmsuser or change its password; after Disconnect a crypto
    officer can."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.connect(sid)
    with pytest.raises(NotEnabled):
        d.env("change_kmsuser_password", cid, "Known1Password")
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "Known1Password")
    d.env("kmsuser_logs_in", cid)


def test_forgetting_to_log_out():
    """KU-06, KU-09, CEC-09: manual work as kmsuser without logging out makes the connect fail with
    USER_LOGGED_IN even though KMS was told the right password."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.connect(sid)
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "Known1Password")
    d.env("kmsuser_logs_in", cid)
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Known1Password")
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "USER_LOGGED_IN"


def test_lockout_and_reset():
    """KU-07, CEC-08: a locked kmsuser makes the connect fail with USER_LOCKED_OUT; it cannot log in; only a
    crypto officer's password reset unlocks it."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.env("kmsuser_locked_out", cid)
    with pytest.raises(NotEnabled):
        d.env("kmsuser_logs_in", cid)
    d.connect(sid)
    assert d.describe(sid)["ConnectionErrorCode"] == "USER_LOCKED_OUT"
    d.env("change_kmsuser_password", cid, KMSUSER_PASSWORD)
    assert not d.world.cluster(cid).kmsuser.locked_out
    d.disconnect(sid)
    assert d.connect(sid) == "CONNECTED"


def test_password_changed_behind_kms_back():
    """KU-08: a password changed in the cluster while disconnected makes every connect fail with
    INVALID_CREDENTIALS until UpdateCustomKeyStore(KeyStorePassword) tells KMS."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.connect(sid)
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "Changed1Pass")
    for _ in range(2):
        d.connect(sid)
        assert d.describe(sid)["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
        d.disconnect(sid)
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Changed1Pass")
    assert d.connect(sid) == "CONNECTED"


def test_manual_work_procedure():
    """KU-09, KU-10, CONNECT-11: Disconnect; a CO sets a known password; log in as kmsuser and work (delete an
    orphaned backing key, which only its owner kmsuser can do); log out; Update KeyStorePassword; Connect:
    the store connects and KMS rotates the password again."""
    d = Driver(healthy_account())
    sid = d.create_store()
    cid = d.cluster_serial()
    d.connect(sid)
    d.call("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM")
    orphan = max(d.world.cluster(cid).key_material)
    d.disconnect(sid)
    d.env("change_kmsuser_password", cid, "Aud1tPassword")
    with pytest.raises(NotEnabled):
        d.env("delete_key_material", cid, orphan)
    d.env("kmsuser_logs_in", cid)
    d.env("delete_key_material", cid, orphan)
    d.env("kmsuser_logs_out", cid)
    d.call("UpdateCustomKeyStore", CustomKeyStoreId=sid, KeyStorePassword="Aud1tPassword")
    assert d.connect(sid) == "CONNECTED"
    rotated = d.world.cluster(cid).kmsuser.password
    assert isinstance(rotated, Secret) and _store(d, sid).password == rotated
    assert orphan not in d.world.cluster(cid).key_material
