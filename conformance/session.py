"""A session: one target, driven step by step, every observation checked against the model.

The session maps the model's identifiers to the target's (:class:`~.identity.Binding`),
keeps the possible worlds (:class:`~.checker.PossibleWorlds`), polls asynchronous work
within a budget, records coverage, and remembers the steps it ran, so that a failure can
be shown as the program that reproduces it. It is also the API those programs use::

    s = Session.open("reference")
    s.setup()
    s.call("CreateCustomKeyStore", CustomKeyStoreName="store-a", ...)
"""

from __future__ import annotations

import secrets
from typing import Any, Iterable

from ckspec.model import Call, Environment, World
from ckspec.model import identifiers as ids
from ckspec.model.environment import EVENTS
from ckspec.model.transitions import CONNECTION_ATTEMPT_COMPLETES, DISCONNECT_COMPLETES, KEY_DELETION_COMPLETES
from ckspec.model.world import AVAILABILITY_ZONES

from .adapter import (AdapterError, EnvironmentReply, Reply, Target, TargetUnreachable, reply_problem,
                      unsupported_signature)
from .checker import Inconclusive, Mismatch, Nonconformance, PossibleWorlds
from .contract import CREATES, environment_reply_problem, reused_problem, shown_call
from .coverage import Coverage
from .faked import FakedSetUp
from .identity import Binding
from .leaks import find_leak
from .stability import FirstSight
from .transport import NotImplementedEvidence, TransportFault
from .steps import (ENVIRONMENT_ARGUMENTS, CallStep, DaysPassStep, EnvironmentStep, PaginateStep, Password,
                    SettleStep, Step, WaitStep, to_python)

#: Clusters in the starting account: three ready clusters of three lineages, so that three
#: stores can exist at once (CREATE-06) and pagination has something to page through.
CLUSTERS = 3
MAX_PAGES = 20
#: Under a controlled clock, how long a settle waits past its polls before it calls work stuck.
SETTLE_GRACE_SECONDS = 3600.0


#: The value of each password alias in this process: random (alphanumeric, as CloudHSM
#: requires), never written anywhere, the same for every session of a run (so examples share
#: the model's memoised outcomes).
_PASSWORDS: dict[tuple[int, int | None], str] = {}


def _password_value(alias: int, length: int | None = None) -> str:
    found = _PASSWORDS.get((alias, length))
    if found is None:
        value = "P" + secrets.token_hex(8)
        if length is not None:  # a password of exactly that length (KU-04 boundaries)
            value = ("P" + secrets.token_hex(max(length, 2)))[:length]
        found = _PASSWORDS[(alias, length)] = value
    return found


def password(alias: int, length: int | None = None) -> Password:
    """A kmsuser password by alias (for reproduction programs)."""
    return Password(alias, length)


def setup_steps(clusters: int = CLUSTERS) -> tuple[EnvironmentStep, ...]:
    """The starting account, as environment controls: ``clusters`` ACTIVE clusters, each with
    an HSM in two AZs and kmsuser with password alias 0 (what ``healthy_account`` builds)."""
    steps: list[EnvironmentStep] = []
    serial = 0
    for _ in range(clusters):
        cluster = ids.cluster_id(serial + 1)
        serial += 3
        steps += [
            EnvironmentStep("create_cluster", (2,)),
            EnvironmentStep("create_hsm", (cluster, AVAILABILITY_ZONES[0])),
            EnvironmentStep("initialize_cluster", (cluster,)),
            EnvironmentStep("create_hsm", (cluster, AVAILABILITY_ZONES[1])),
            EnvironmentStep("activate_cluster", (cluster,)),
            EnvironmentStep("create_kmsuser", (cluster, Password(0))),
        ]
    return tuple(steps)


class Session:
    """One target under test and what the model still allows it to be."""

    def __init__(self, target: Target, *, poll_budget: int = 30, poll_interval: float = 1.0,
                 coverage: Coverage | None = None, unsupported: dict[str, str] | None = None,
                 evidence: NotImplementedEvidence | None = None) -> None:
        self.target = target
        self.capabilities = target.capabilities
        self.worlds = PossibleWorlds(World(quota=getattr(self.capabilities, "quota", 10)))
        self.binding = Binding()
        self.poll_budget, self.poll_interval = poll_budget, poll_interval
        self.coverage = coverage if coverage is not None else Coverage()
        self._own_coverage = coverage is None
        #: operation or environment control -> the "not implemented" signature the target gave
        self.unsupported = unsupported if unsupported is not None else {}
        #: ambiguous not-implemented answers seen in the run (an HTML 500 proves nothing once):
        #: shared with a target that weighs them (the boto3 adapter)
        self.evidence = evidence if evidence is not None else NotImplementedEvidence()
        if isinstance(getattr(target, "evidence", None), NotImplementedEvidence):
            self.evidence.trusted = self.evidence.trusted or target.evidence.trusted
            target.evidence = self.evidence
        self.trail: list[Step] = []
        #: rules of the outcomes that explained each step so far (the path to a failure)
        self.path_rules: list[str] = []
        self.ciphertexts: list[bytes] = []
        self.steps_run = 0
        self._passwords: dict[tuple[int, int | None], str] = {}
        #: members that must not change, as the target first showed them
        self.first_sight = FirstSight()
        #: the lenient worlds, when the starting account was faked (:mod:`.faked`)
        self.faked: FakedSetUp | None = None
        #: answers only faked set-up explains: one line each, naming the rules the strict worlds blamed
        self.faked_setup: list[str] = []
        #: the starting account is being built (:meth:`setup`): every set-up control must be applied
        self._setting_up = False

    @classmethod
    def open(cls, target: str, seed: int = 0, **options: Any) -> "Session":
        """A session on a target named as on the command line (``reference``, ``mutant:NAME``,
        ``module:Class``)."""
        from .targets import load_target

        return cls(load_target(target).make(seed), **options)

    @property
    def world(self) -> World:
        """One world consistent with everything observed (for generating the next step)."""
        return self.worlds.representative

    def secret_values(self) -> tuple[str, ...]:
        return tuple(self._passwords.values())

    # --- the program API ---------------------------------------------------------------------------
    def setup(self) -> None:
        self._setting_up = True
        try:
            for step in setup_steps():
                self._run(step)
        finally:
            self._setting_up = False
        self.path_rules.clear()  # the path to a failure starts after the starting account
        if getattr(self.target, "faked", None):  # the target never saw the starting account's clusters
            self.faked = FakedSetUp(self.worlds)

    def call(self, operation: str, **params: Any) -> Reply:
        return self.run(CallStep(operation, tuple(params.items())))

    def env(self, event: str, *args: Any) -> bool:
        return self.run(EnvironmentStep(event, args))

    def wait(self, seconds: float = 1.0) -> None:
        self.run(WaitStep(seconds))

    def settle(self) -> None:
        self.run(SettleStep())

    def days_pass(self, days: int = 31) -> None:
        self.run(DaysPassStep(days))

    def paginate(self, limit: int = 1) -> None:
        self.run(PaginateStep(limit))

    def run(self, step: Step) -> Any:
        """Run one step and check what the target did; raises Nonconformance or Inconclusive."""
        self.trail.append(step)
        self.steps_run += 1
        return self._run(step)

    def close(self) -> None:
        self.target.close()

    # --- steps -------------------------------------------------------------------------------------
    def _run(self, step: Step) -> Any:
        if isinstance(step, CallStep):
            return self._call(step)
        if isinstance(step, EnvironmentStep):
            return self._environment(step)
        if isinstance(step, WaitStep):
            self.target.wait(step.seconds)
            self._time_passes()
            return None
        if isinstance(step, SettleStep):
            return self._settle()
        if isinstance(step, DaysPassStep):
            return self._days_pass(step)
        if isinstance(step, PaginateStep):
            return self._paginate(step)
        raise TypeError(f"not a step: {step!r}")

    def _call(self, step: CallStep) -> Reply:
        params = {k: self._value(v) for k, v in step.params}
        call = Call.of(step.operation, params)
        if not self.capabilities.controlled_clock:
            self._time_passes()
        try:
            reply = self.target.call(step.operation, self.binding.outbound(params))
        except NotImplementedError as exc:
            self.unsupported.setdefault(step.operation, unsupported_signature(exc=exc) or "NotImplementedError")
            return Reply(501, "NotImplemented")
        except (Inconclusive, TransportFault, AdapterError, TargetUnreachable):
            raise  # not an answer: the target cannot tell, it was spoiled, it broke the interface or stopped
        except Exception as exc:  # a crash of the target is an answer no world explains
            raise self._failure(Mismatch(("ERR-01",), ("a reply",), type(exc).__name__, "",
                                         f"ERR-01: {call!r}: the target raised {type(exc).__name__}")) from None
        if not isinstance(reply, Reply):
            raise AdapterError(f"{_adapter(self.target)}.call({step.operation!r}) returned "
                               f"{type(reply).__name__}, not a ckspec.conformance.Reply")
        malformed = reply_problem(reply)
        if malformed:
            raise AdapterError(f"{_adapter(self.target)}.call({step.operation!r}) returned a Reply whose {malformed}")
        signature = unsupported_signature(reply)
        if signature:
            self.unsupported.setdefault(step.operation, signature)
            return reply
        self._check_no_secret(call, reply)
        try:
            matched = self.worlds.observe_call(call, reply, self.binding, probe=self._probe_state)
        except Nonconformance as exc:
            if not self._explained_by_faked_setup(call, reply, exc.failure):
                raise self._failure(exc.failure) from None
            return reply
        if reply.ok:
            changed = self.first_sight.observe(step.operation, reply.body, self.binding)
            if changed:
                raise self._failure(Mismatch((changed.rule,), (f"{changed.member} {changed.first}",),
                                             f"{changed.member} {changed.now}", "", f"{changed.message} ({call!r})"))
        if self.faked is not None:
            self.faked.follow(call, reply, self.binding, self.worlds)
        rules = [r for o in matched.outcomes for r in o.rules]
        if not reply.ok:  # the checker compared the error's shape name and HTTP status
            rules += ["ERR-01", "ERR-02"]
        self.coverage.record_call(call, matched.before, [o.world for o in matched.outcomes], reply.summary(), rules)
        if matched.outcomes[0].world is not matched.before[0]:
            self.path_rules.extend(r for r in matched.outcomes[0].rules if r not in self.path_rules)
        if step.operation == "Encrypt" and reply.ok:
            self.ciphertexts.append(matched.outcomes[0].response.body["CiphertextBlob"])
        return reply

    def _environment(self, step: EnvironmentStep) -> bool:
        kinds = ENVIRONMENT_ARGUMENTS.get(step.event)
        if kinds is None or len(kinds) != len(step.args):
            raise ValueError(f"environment control {step.event}: expected arguments {kinds}, got {len(step.args)}")
        model_args = tuple(self._model_arg(kind, a) for kind, a in zip(kinds, step.args))
        target_args = tuple(self.binding.to_target.get(a, a) if kind in ("cluster", "hsm", "backup", "key")
                            else self._value(a) for kind, a in zip(kinds, step.args))
        if not self.capabilities.controlled_clock:
            self._time_passes()
        try:
            reply = self.target.environment(step.event, target_args)
        except NotImplementedError:
            self.unsupported.setdefault(step.event, "NotImplementedError")
            return False
        if isinstance(reply, bool):
            reply = EnvironmentReply(reply)
        if not isinstance(reply, EnvironmentReply):
            raise AdapterError(f"{_adapter(self.target)}.environment({step.event!r}) returned "
                               f"{type(reply).__name__}, not a ckspec.conformance.EnvironmentReply")
        broken = environment_reply_problem(step.event, reply, setting_up=self._setting_up)
        reused = reply.applied and step.event in CREATES and reply.created in self.binding.to_model
        if broken:  # the adapter's own environment(), not the implementation: never a rule verdict
            raise self._broken_environment(step.event, target_args, broken)
        try:
            matched = self.worlds.observe_environment(Environment(step.event, model_args), reply, self.binding)
        except Nonconformance as exc:  # the model refuses the event: its verdict comes first
            raise self._failure(exc.failure) from None
        if reused:  # the model allows the creation, but the "new" identifier is an old one
            raise self._broken_environment(step.event, target_args, reused_problem(step.event, reply.created))
        rules = EVENTS[step.event].rules
        self.coverage.record_environment(step.event, reply.applied, rules)
        if reply.applied and matched.outcomes:
            self.path_rules.extend(r for r in rules if r not in self.path_rules)
        return reply.applied

    def _broken_environment(self, event: str, target_args: tuple[Any, ...], problem: str) -> AdapterError:
        return AdapterError(f"{shown_call(_adapter(self.target), event, target_args)} {problem} "
                            f"(see docs/reference/environment-events.md)")

    def _settle(self) -> None:
        before = self.worlds.worlds
        for _ in range(self.poll_budget):
            if not self.worlds.work_pending():
                break
            self.target.wait(self.poll_interval)
            self._time_passes()
            self._read_every_page()
        else:
            if self.worlds.work_pending() and self.capabilities.controlled_clock:
                # a virtual clock costs nothing to move on: give the work an hour (three times
                # CONNECT-09's twenty minutes), then read once more
                self.target.wait(SETTLE_GRACE_SECONDS)
                self._time_passes()
                self._read_every_page()
            if self.worlds.work_pending():
                self._unsettled()
        self._record_internal(before, self.worlds.worlds)

    def _unsettled(self) -> None:
        """The polls ran out with work still under way. A store every world shows DISCONNECTING is
        stuck there: a disconnect ends in finite time (AMB-04, TR-05), so under a controlled clock,
        after the grace hour, that is a failure; on a real clock ckspec cannot tell how long is too
        long, so it is inconclusive, and the example does not count as exercising the rules that
        promise the disconnect ends (else a scorecard would read TR-05 as passed)."""
        stuck = _stuck_disconnecting(self.worlds.worlds)
        waited = f"{self.poll_budget} polls {self.poll_interval:g} s apart"
        if stuck and self.capabilities.controlled_clock:
            shown = ", ".join(self.binding.to_target.get(s, s) for s in stuck)
            raise self._failure(Mismatch(
                ("TR-05", "AMB-04"), ("DISCONNECTED",), "DISCONNECTING", f"{shown} still DISCONNECTING",
                f"TR-05: {shown} stayed DISCONNECTING through {waited} and {SETTLE_GRACE_SECONDS:g} s more on the "
                f"target's controlled clock; a disconnect ends DISCONNECTED in finite time (TR-05, AMB-04)"))
        if stuck:
            doubted = DISCONNECT_COMPLETES.branches[0].rules
            if self._own_coverage:
                for rule in doubted:
                    self.coverage.rules.pop(rule, None)
            exc = Inconclusive(
                f"AMB-04: after {waited}, {len(stuck)} store(s) still DISCONNECTING; a disconnect ends in finite time "
                f"(AMB-04, TR-05), but on a real clock ckspec cannot tell how long is too long (raise the polling "
                f"budget)")
            exc.rules = doubted  # type: ignore[attr-defined]  # not passed by this example (scorecards)
            raise exc
        raise Inconclusive(
            f"CONNECT-09: after {waited}, a connection attempt or a disconnect may still be under way (raise the "
            f"polling budget)")

    def _read_every_page(self) -> None:
        """One poll: DescribeCustomKeyStores, following NextMarker to the last page. A target may
        page a listing it was given no Limit for (DESC-04: fewer entries than Limit are allowed), and
        a poll that read only the first page would never see the later stores settle."""
        params: tuple[tuple[str, Any], ...] = ()
        for _ in range(MAX_PAGES):
            reply = self._call(CallStep("DescribeCustomKeyStores", params))
            body = reply.body or {}
            if not reply.ok or not body.get("Truncated") or body.get("NextMarker") is None:
                return
            params = (("Marker", self.binding.model_value(body["NextMarker"])),)
        raise self._failure(Mismatch(("DESC-04",), ("a last page",), "more pages", "",
                                     f"DESC-04: a DescribeCustomKeyStores listing did not end after {MAX_PAGES} pages"))

    def _days_pass(self, step: DaysPassStep) -> None:
        before = self.worlds.worlds
        self.target.wait(step.days * 86400.0)
        self.worlds.days_pass()
        if self.faked is not None:
            self.faked.days_pass()
        self._record_internal(before, self.worlds.worlds)
        gone = {k.key_id: k for k in before[0].keys if k.state == "PendingDeletion"}
        for w in self.worlds.worlds:
            for k in w.keys:
                gone.pop(k.key_id, None)
        for key in gone.values():
            store = before[0].store(key.store_id)
            branch = KEY_DELETION_COMPLETES.branches[0 if store and store.state.value == "CONNECTED" else 1]
            self.coverage.record_internal(KEY_DELETION_COMPLETES.name, "PendingDeletion", "ABSENT", branch.rules)

    def _paginate(self, step: PaginateStep) -> None:
        marker = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"Limit": step.limit}
            if marker is not None:
                params["Marker"] = self.binding.model_value(marker)
            reply = self._call(CallStep("DescribeCustomKeyStores", tuple(params.items())))
            body = reply.body or {}
            if not reply.ok or not body.get("Truncated"):
                return
            marker = body.get("NextMarker")
            self.coverage.sequences["paged"] += 1
        raise self._failure(Mismatch(("DESC-04",), ("a last page",), "more pages", "",
                                     f"DESC-04: paging with Limit={step.limit} did not end after {MAX_PAGES} pages"))

    # --- helpers -----------------------------------------------------------------------------------
    def _time_passes(self) -> None:
        self.worlds.time_passes()
        if self.faked is not None:
            self.faked.time_passes()

    def _explained_by_faked_setup(self, call: Call, reply: Reply, failure: Mismatch) -> bool:
        """No strict world explains ``reply``: whether one where the faked set-up is favourable
        does. If so the answer is noted as depending on faked set-up (not a failure, not a
        pass) and the example goes on from the lenient worlds."""
        if self.faked is None:
            return False
        found = self.faked.explain(call, reply, self.binding)
        if found is None:
            return False
        _, self.worlds, self.binding = found
        rules = ", ".join(failure.rules[:3]) or "-"
        self.faked_setup.append(f"{call.operation} answered {reply.summary()}: explained only if the set-up ckspec "
                                f"faked (clusters, trust anchors, kmsuser passwords the target never saw) was "
                                f"favourable; the strict model blamed {rules}")
        return True

    def _value(self, value: Any) -> Any:
        if isinstance(value, Password):
            slot = (value.alias, value.length)
            found = self._passwords.get(slot)
            if found is None:
                found = self._passwords[slot] = _password_value(*slot)
            return found
        return value

    def _model_arg(self, kind: str, value: Any) -> Any:
        parse = {"cluster": ids.parse_cluster_id, "hsm": ids.parse_hsm_id, "backup": ids.parse_backup_id,
                 "key": ids.parse_key_id}.get(kind)
        if parse is None:
            return self._value(value)
        serial = parse(value)
        return -1 if serial is None else serial

    def _check_no_secret(self, call: Call, reply: Reply) -> None:
        """DESC-05, KU-04: no reply ever contains a kmsuser password."""
        leak = find_leak(reply.message, reply.body, self._passwords.values()) if self._passwords else None
        if leak:  # the description says where and how, never the password itself
            rules = ("KU-04", "DESC-05")
            raise self._failure(Mismatch(rules, ("a reply without the password",), "a password", leak,
                                         f"{rules[0]}: {call!r}: the target's reply gives a kmsuser password away: "
                                         f"{leak}"))

    def _probe_state(self, store: int) -> str | None:
        """The ConnectionState the target shows for a store now (a read to confirm a diagnosis;
        not a step of the example), or None when it cannot tell."""
        target_id = self.binding.to_target.get(ids.store_id(store))
        if target_id is None:
            return None
        try:
            reply = self.target.call("DescribeCustomKeyStores", {"CustomKeyStoreId": target_id})
        except Exception:  # noqa: BLE001 - a diagnosis never fails the run
            return None
        entries = (reply.body or {}).get("CustomKeyStores") if isinstance(reply, Reply) and reply.ok else None
        return entries[0].get("ConnectionState") if entries and isinstance(entries[0], dict) else None

    def _failure(self, mismatch: Mismatch) -> Nonconformance:
        exc = Nonconformance(mismatch)
        step = self.trail[-1] if self.trail else None
        exc.state = "-"  # type: ignore[attr-defined]
        if isinstance(step, CallStep):  # the subject's state when it failed (for the reports)
            from .coverage import subject_state

            states = {subject_state(w, Call.of(step.operation, step.kwargs)) for w in self.worlds.worlds}
            exc.state = states.pop() if len(states) == 1 else "-"  # type: ignore[attr-defined]
        exc.steps = tuple(self.trail)  # type: ignore[attr-defined]
        exc.path_rules = tuple(self.path_rules)  # type: ignore[attr-defined]
        return exc

    def _record_internal(self, before: Iterable[World], after: Iterable[World]) -> None:
        """Store transitions the target made on its own, when the observations pin them down."""
        before_states = _agreed_states(before)
        after_states = _agreed_states(after)
        for store_id, (state, _) in before_states.items():
            now = after_states.get(store_id, ("ABSENT", None) if store_id not in _all_stores(after) else None)
            if now is None or now[0] == state:
                continue
            event, rules = _internal_rules(state, now)
            self.coverage.record_internal(event, state, now[0], rules)
            if now[1]:
                self.coverage.sequences[f"FAILED with {now[1]}"] += 1
            self.path_rules.extend(r for r in rules if r not in self.path_rules)


def _stuck_disconnecting(worlds: Iterable[World]) -> list[str]:
    """The model IDs of the stores every world shows DISCONNECTING (in truth, or in a read that
    lags behind, AMB-30: either way the reads never showed the disconnect end)."""
    worlds = tuple(worlds)
    common = None
    for w in worlds:
        here = {s.store_id for s in w.stores if "DISCONNECTING" in (s.state.value, s.lag[0].value if s.lag else None)}
        common = here if common is None else common & here
    return [ids.store_id(s) for s in sorted(common or ())]


def _all_stores(worlds: Iterable[World]) -> set[int]:
    return {s.store_id for w in worlds for s in w.stores}


def _agreed_states(worlds: Iterable[World]) -> dict[int, tuple[str, str | None]]:
    """Store -> (state, error code) where every world agrees."""
    seen: dict[int, set[tuple[str, str | None]]] = {}
    for w in worlds:
        for s in w.stores:
            seen.setdefault(s.store_id, set()).add((s.state.value, s.error_code))
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def _internal_rules(before: str, after: tuple[str, str | None]) -> tuple[str, tuple[str, ...]]:
    state, code = after
    if before == "CONNECTING":
        for branch in CONNECTION_ATTEMPT_COMPLETES.branches:
            if branch.alt is None and branch.target == state and branch.error_code == code:
                return CONNECTION_ATTEMPT_COMPLETES.name, branch.rules
        return CONNECTION_ATTEMPT_COMPLETES.name, ()
    if before == "DISCONNECTING":
        return DISCONNECT_COMPLETES.name, DISCONNECT_COMPLETES.branches[0].rules
    return KEY_DELETION_COMPLETES.name, ()


def program(target: str, steps: Iterable[Step], message: str, seed: int = 0) -> str:
    """A runnable Python program that replays ``steps`` on ``target``; it raises Nonconformance
    at the step that fails."""
    head = ["# A ckspec conformance failure, reproduced. Running this file raises Nonconformance:",
            *(f"#   {line}" for line in message.splitlines()),
            "from ckspec.conformance import Session, password  # noqa: F401", "",
            f"s = Session.open({target!r}, seed={seed})",
            "s.setup()  # three ACTIVE clusters with two HSMs each and kmsuser (password(0))"]
    return "\n".join([*head, *(to_python(step) for step in steps), ""])




def _adapter(target: Target) -> str:
    """The adapter's class name (a guarded foreign adapter names its own class)."""
    return getattr(target, "adapter_class", None) or type(target).__name__
