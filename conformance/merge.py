"""``ckspec report merge``: the JSON reports of a campaign's shards folded into one report.

The shards of a check campaign (``ckspec check --shard K/N --json``) merge into one
:class:`~.engine.RunResult`, the shards of a scorecard (``ckspec scorecard --shard K/N
--json``) into one :class:`~.scorecard.Scorecard` per target; the usual writers then write
the merged JSON, HTML, JUnit or Markdown page. Counts add up, coverage is united, ordered
findings are put back in example order, and the failure reported is the one the whole
campaign run on one machine reports (:mod:`.campaign`). Timings add up (machine time).

Shards are refused (:class:`MergeError`, one line) unless they are exactly the N shards of one
campaign: the same kind of report, target, seed, examples, steps, polling settings, ckspec
version and N, each K once.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from .campaign import (ScorecardShardLog, Shard, ShardError, ShardLog, coverage_from_json, failure_from_dict,
                       first_failure_steps, parse_shard)
from .engine import FAULT_SAMPLES, RunResult
from .isolation import Isolation
from .transport import FaultRecord

#: the largest report a merge reads (a shard's report of a long campaign is a few MB)
MAX_REPORT_BYTES = 256 * 1024 * 1024


class MergeError(Exception):
    """Reports that cannot be merged, with the reason in one line."""


def load_reports(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Each path's JSON document; MergeError for one that cannot be read or is not JSON."""
    out = []
    for path in paths:
        try:
            if Path(path).stat().st_size > MAX_REPORT_BYTES:
                raise MergeError(f"{path}: larger than {MAX_REPORT_BYTES // 2**20} MB, not a ckspec report")
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise MergeError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MergeError(f"{path} is not a JSON report ({str(exc).splitlines()[0]})") from None
        if not isinstance(document, dict):
            raise MergeError(f"{path} is not a ckspec JSON report (not an object)")
        out.append((path, document))
    return out


def kind_of(path: str, document: dict[str, Any]) -> str:
    """``check`` or ``scorecard``; MergeError for a report that is neither, or not a shard's."""
    if isinstance(document.get("scorecards"), list):
        parts = document["scorecards"]
        if not parts or not all(isinstance(p, dict) and isinstance(p.get("shard"), dict) for p in parts):
            raise MergeError(f"{path} is not a shard's scorecard (run ckspec scorecard --shard K/N --json)")
        return "scorecard"
    if "verdict" in document:
        if not isinstance(document.get("shard"), dict):
            raise MergeError(f"{path} is not a shard's report (run ckspec check --shard K/N --json FILE)")
        return "check"
    raise MergeError(f"{path} is not a ckspec check or scorecard JSON report")


def _shard_of(path: str, log: dict[str, Any]) -> Shard:
    try:
        return parse_shard(str(log.get("shard", "")))
    except ShardError as exc:
        raise MergeError(f"{path}: bad shard member: {exc}") from None


def _same_campaign(reports: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """The logs ordered by K, once each of 1..N of one campaign; MergeError otherwise."""
    first_path, first = reports[0]
    shards = [(_shard_of(path, log), path, log) for path, log in reports]
    counts = {s.count for s, _, _ in shards}
    if len(counts) > 1:
        raise MergeError(f"different numbers of shards: {first_path} is {shards[0][0]}, "
                         + next(f"{p} is {s}" for s, p, _ in shards if s.count != shards[0][0].count))
    for path, log in reports[1:]:
        a, b = first.get("campaign"), log.get("campaign")
        if not isinstance(a, dict) or not isinstance(b, dict):
            raise MergeError(f"{path if not isinstance(b, dict) else first_path}: no campaign in its shard member")
        differ = next((k for k in [*a, *b] if a.get(k) != b.get(k)), None)  # the campaign's order: target first
        if differ is not None:
            raise MergeError(f"{first_path} and {path} are shards of different campaigns ({differ}: "
                             f"{str(a.get(differ))[:60]} vs {str(b.get(differ))[:60]})")
    seen: dict[int, str] = {}
    for shard, path, _ in shards:
        if shard.index in seen:
            raise MergeError(f"shard {shard} given twice: {seen[shard.index]} and {path}")
        seen[shard.index] = path
    count = shards[0][0].count
    missing = [str(k) for k in range(1, count + 1) if k not in seen]
    if missing:
        raise MergeError(f"missing shard(s) {', '.join(f'{k}/{count}' for k in missing)} of {count}")
    return [(path, log) for _, path, log in sorted(shards, key=lambda s: s[0].index)]


def _by_index(lists: Sequence[list[list[Any]]]) -> list[tuple[int, Any]]:
    """Entries tagged with their example's index, in example order (stable within an example)."""
    return sorted(((int(i), v) for entries in lists for i, v in entries), key=lambda e: e[0])


def merge_check(reports: list[tuple[str, dict[str, Any]]]) -> RunResult:
    """The check campaign's result from its shards' reports."""
    ordered = _same_campaign([(path, doc["shard"]) for path, doc in reports])
    documents = {path: doc for path, doc in reports}
    docs = [documents[path] for path, _ in ordered]
    try:
        return _fold_check(docs)
    except (KeyError, TypeError, ValueError) as exc:
        raise MergeError(f"a shard's report is incomplete or altered ({type(exc).__name__}: {exc})") from None


def _fold_check(docs: list[dict[str, Any]]) -> RunResult:
    campaign = docs[0]["shard"]["campaign"]
    result = RunResult(campaign["target"], campaign["seed"])
    log = ShardLog(Shard(1, 1), campaign)
    for doc in docs:
        part = doc["shard"]
        result.examples += doc["examples"]
        result.steps += doc["steps"]
        result.seconds += doc["seconds"]
        result.coverage.merge(coverage_from_json(part["coverage"]))
        for op, signature in doc["unsupported_signatures"].items():
            result.unsupported.setdefault(op, signature)
        result.transport_faults.update(doc["transport_faults"]["by_kind"])
        result.abandoned.update(doc["abandoned_examples"]["by_kind"])
        if doc["isolation"] and result.isolation is None:
            result.isolation = Isolation(doc["isolation"]["kind"], doc["isolation"]["how"])
        log.examples += [(int(i), int(n)) for i, n in part["examples"]]
    log.examples.sort()
    log.regression_steps = docs[0]["shard"]["regression_steps"]
    log.inconclusive = _by_index([d["shard"]["inconclusive"] for d in docs])
    log.faked_setup = _by_index([d["shard"]["faked_setup"] for d in docs])
    log.fault_samples = _by_index([d["shard"]["fault_samples"] for d in docs])[:FAULT_SAMPLES]
    result.inconclusive = [r for _, r in log.inconclusive]
    result.faked_setup = [r for _, r in log.faked_setup]
    result.fault_samples = [FaultRecord(s["kind"], s["operation"], s["raw"]) for _, s in log.fault_samples]
    result.regressions = docs[0]["regressions"]
    result.failures = [failure_from_dict(f) for f in docs[0]["failures"] if f["regression"]]
    failing = [d for d in docs if d["shard"]["failure_example"] is not None]
    if failing:
        first = min(failing, key=lambda d: d["shard"]["failure_example"])
        log.failure_example = first["shard"]["failure_example"]
        result.failures += [failure_from_dict(f) for f in first["failures"] if not f["regression"]]
        result.first_failure_steps = first_failure_steps(log.regression_steps, log.examples, log.failure_example)
    log.coverage = result.coverage
    result.shard = log
    return result


def merge_scorecards(reports: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Each target's scorecard from its shards' scorecards (every report holds the same targets)."""
    first_path, first = reports[0]
    targets = [c.get("target") for c in first["scorecards"]]
    for path, doc in reports[1:]:
        if [c.get("target") for c in doc["scorecards"]] != targets:
            raise MergeError(f"{first_path} and {path} are shards of different campaigns (targets: "
                             f"{', '.join(map(str, targets))} vs {', '.join(str(c.get('target')) for c in doc['scorecards'])})")
    cards = []
    for i in range(len(targets)):
        ordered = _same_campaign([(path, doc["scorecards"][i]["shard"]) for path, doc in reports])
        by_path = {path: doc["scorecards"][i] for path, doc in reports}
        try:
            cards.append(_fold_scorecard([by_path[path] for path, _ in ordered]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MergeError(f"a shard's scorecard is incomplete or altered ({type(exc).__name__}: {exc})") from None
    return cards


def _fold_scorecard(parts: list[dict[str, Any]]) -> Any:
    from ckspec.model.transitions import CALLS

    from .scorecard import Scorecard, ScorecardOptions, probe_operations

    campaign = parts[0]["shard"]["campaign"]
    options = ScorecardOptions(examples=campaign["examples"], steps=campaign["steps"], seed=campaign["seed"],
                               poll_budget=campaign["poll_budget"], poll_interval=campaign["poll_interval"],
                               minimise=campaign["shrink"])
    card = Scorecard(campaign["target"], options, dict(parts[0]["versions"]))
    card.not_offered = tuple(parts[0]["not_offered"])
    card.offered = frozenset(op for op in CALLS if op not in card.not_offered)
    log = ScorecardShardLog(Shard(1, 1), campaign)
    #: failure key -> [first seen, (kept steps' length, their example), occurrences, the failure]
    found: dict[tuple[Any, ...], list[Any]] = {}
    doubted: set[str] = set()
    tried: set[str] = set()
    for part in parts:
        meta = part["shard"]
        card.examples += part["examples"]
        card.probes += part["probes"]
        card.steps += part["steps"]
        card.seconds += part["seconds"]
        card.coverage.merge(coverage_from_json(meta["coverage"]))
        for op, signature in part["unsupported"].items():
            card.unsupported.setdefault(op, signature)
        card.faked.update(part["faked"])
        card.transport_faults.update(part["transport_faults"])
        card.abandoned.update(part["abandoned"])
        if part["isolation"] and card.isolation is None:
            card.isolation = Isolation(part["isolation"]["kind"], part["isolation"]["how"])
        doubted.update(meta["doubted"])
        tried.update(meta["tried"])
        for failure, (seen, kept, length, operation) in zip(part["failures"], meta["failures"]):
            key = (tuple(failure["rules"]), operation, failure["observed"])
            entry = found.setdefault(key, [seen, (length, kept), 0, failure])
            entry[0] = min(entry[0], seen)
            if (length, kept) < entry[1]:
                entry[1], entry[3] = (length, kept), failure
            entry[2] += failure["examples"]
    for key, (seen, (length, kept), times, failure) in sorted(found.items(), key=lambda kv: kv[1][0]):
        card.failures.append(failure_from_dict(failure))
        card.occurrences.append(times)
        log.failures.append([seen, kept, length, key[1]])
    log.inconclusive = _by_index([p["shard"]["inconclusive"] for p in parts])
    log.faked_setup = _by_index([p["shard"]["faked_setup"] for p in parts])
    card.inconclusive = [r for _, r in log.inconclusive]
    card.faked_setup = [r for _, r in log.faked_setup]
    card.doubted = doubted
    log.doubted, log.tried, log.coverage = sorted(doubted), sorted(tried), card.coverage
    if card.probes == 0:  # shards make no probes: which ones the unsharded run makes (scorecard.probe_merged)
        log.unprobed = sorted((probe_operations() & card.offered) - tried)
    card.shard = log
    return card
