"""The permissive profile holds every documented outcome: for every world and call, the outcomes
of every named profile (model/profiles.py) are among the permissive ones.

This is the project's rule for documented ambiguities (AMB-nn): where the documentation
disagrees, the outcome set holds both answers, and a one-answer profile (reference, legacy)
picks from that set, never outside it. AMB-14 is the case that broke it: the legacy profile
refuses to rename a CONNECTED CloudHSM key store (as the AWS CLI example and an AWS sample do),
while the permissive profile only renamed.

Outcomes are compared on what a caller and the next step can see: the error shape, the body,
and the next world (read lag included). Messages differ per profile ("this profile renames
only ...") and are not compared.
"""

from __future__ import annotations

import random

from ckspec.model import PERMISSIVE, Call, Driver, Internal, healthy_account, internal_events, outcomes
from ckspec.model import identifiers as ids
from ckspec.model.external import OutsideModel
from ckspec.model.moves import moves
from ckspec.model.profiles import PROFILES
from ckspec.model.scope import Scope
from hypothesis import given, settings
from hypothesis import strategies as st

SCOPE = Scope(stores=2, clusters=2, keys=2, faults=2, backups=1)
XKS = dict(CustomKeyStoreType="EXTERNAL_KEY_STORE", XksProxyConnectivity="PUBLIC_ENDPOINT",
           XksProxyUriEndpoint="https://xks.example.com", XksProxyUriPath="/kms/xks/v1",
           XksProxyAuthenticationCredential={"AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
                                             "RawSecretAccessKey": "A" * 43 + "="})


def _seen(outcome) -> tuple:
    """What a caller and the next step can observe of an outcome."""
    response = outcome.response
    shown = None if response is None else (response.error, repr(response.body))
    return shown, outcome.world, tuple(s.lag for s in outcome.world.stores)


def _extra_calls(world) -> list[Call | Internal]:
    """Reads and refusals the move generator does not make, in every world."""
    out: list[Call | Internal] = [Call.of("DescribeCustomKeyStores"), Call.of("DescribeCustomKeyStores", Limit=1),
                                  Call.of("GenerateRandom", NumberOfBytes=8),
                                  Call.of("CreateCustomKeyStore", CustomKeyStoreName="xks-a", **XKS)]
    for s in world.stores:
        sid = ids.store_id(s.store_id)
        out += [Call.of("DescribeCustomKeyStores", CustomKeyStoreId=sid),
                Call.of("DescribeCustomKeyStores", CustomKeyStoreName=s.name),
                Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed"),
                Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="renamed",
                        KeyStorePassword="n3wPassw0rd"),
                Call.of("GenerateRandom", CustomKeyStoreId=sid, NumberOfBytes=8),
                Call.of("CreateKey", CustomKeyStoreId=sid, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048")]
    for k in world.keys:
        kid = ids.key_id(k.key_id)
        out += [Call.of("DescribeKey", KeyId=kid), Call.of("Encrypt", KeyId=kid, Plaintext=b"x"),
                Call.of("GenerateDataKey", KeyId=kid, KeySpec="AES_256")]
    return out


def _start(rng: random.Random):
    d = Driver(healthy_account(2))
    for index in range(rng.randint(0, 2)):
        store = d.create_store(index, name=f"store-{index}") if rng.random() < 0.8 else None
        if rng.random() < 0.4:
            d.call("CreateCustomKeyStore", CustomKeyStoreName=f"xks-{index}",
                   **{**XKS, "XksProxyUriPath": f"/p{index}/kms/xks/v1"})
        if store and rng.random() < 0.7:
            d.connect(store)
            if rng.random() < 0.5:
                d.call("CreateKey", CustomKeyStoreId=store, Origin="AWS_CLOUDHSM")
    return d.world


def _outcomes(world, action, profile):
    """The outcomes, or None when the call is outside the model (XKS-06: every profile says so alike)."""
    try:
        return outcomes(world, action, profile)
    except OutsideModel:
        return None


def _check(world, action) -> int:
    permissive = _outcomes(world, action, PERMISSIVE)
    if permissive is None:
        assert all(_outcomes(world, action, p) is None for p in PROFILES.values()), action
        return 0
    allowed = {_seen(o) for o in permissive}
    for name, profile in PROFILES.items():
        for o in _outcomes(world, action, profile):
            assert _seen(o) in allowed, (
                f"the {name} profile gives {o.label} ({o.response and o.response.summary()}) for {action!r}, "
                f"which the permissive profile does not allow")
    return len(allowed)


@settings(max_examples=80)
@given(seed=st.integers(0, 2**32 - 1))
def test_permissive_outcomes_contain_every_profiles_outcomes(seed):
    """For random worlds (random walks through calls, internal and environment events) and every call
    worth making there: each profile's outcomes are permissive outcomes."""
    rng = random.Random(seed)
    world = _start(rng)
    for _ in range(8):
        actions = [a for a in moves(world, SCOPE) if not hasattr(a, "args")]
        actions += [*_extra_calls(world), *internal_events(world)]
        for action in actions:
            _check(world, action)
        step = [o for a in rng.sample([*moves(world, SCOPE), *_extra_calls(world)], 3)
                for o in (_outcomes(world, a, PERMISSIVE) or ())]
        if step:
            world = rng.choice(step).world


def test_renaming_a_connected_cloudhsm_store_may_be_refused_or_done():
    """AMB-14: the API allows the rename of a CONNECTED CloudHSM store; the AWS CLI example and an AWS
    sample say disconnect first. Permissive allows both; reference renames; legacy refuses."""
    d = Driver(healthy_account())
    sid = d.create_store()
    d.connect(sid)
    call = Call.of("UpdateCustomKeyStore", CustomKeyStoreId=sid, NewCustomKeyStoreName="two")
    seen = {o.response.error for o in outcomes(d.world, call, PERMISSIVE)}
    assert seen == {None, "CustomKeyStoreInvalidStateException"}
    assert [o.response.error for o in outcomes(d.world, call, PROFILES["reference"])] == [None]
    assert [o.response.error for o in outcomes(d.world, call, PROFILES["legacy"])] == \
        ["CustomKeyStoreInvalidStateException"]
    refused = [o for o in outcomes(d.world, call, PERMISSIVE) if o.response.error]
    assert refused[0].world == d.world and refused[0].alt == "AMB-14"
