"""The example GitHub Actions workflow (examples/github-actions/ckspec.yml, docs/ci.md) holds
real ckspec commands: its steps' scripts run here as the runner would run them (bash -eo
pipefail, the workflow's env, one folder per job, the artifacts copied between them), with a
small budget: three shards, the merge, the saved failures kept for the next run (whose shard 1
replays them first), and the gate's answer to each exit code (4, inconclusive, is not a pass)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ckspec.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github-actions" / "ckspec.yml"
BIN = Path(sys.executable).parent
MUTANT = "mutant:CONNECT-03-connect-accepted-on-failed"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _step(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s.get("name") == name)


def _commands(script: str) -> list[str]:
    """The ckspec command lines of a step's script (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("ckspec ")]


def test_the_workflow_is_a_sharded_campaign_with_a_merge_job():
    flow = _workflow()
    jobs = flow["jobs"]
    assert set(jobs) == {"shard", "merge"} and jobs["merge"]["needs"] == "shard"
    assert jobs["merge"]["if"] == "always()"
    assert len(jobs["shard"]["strategy"]["matrix"]["shard"]) == int(flow["env"]["SHARDS"])
    assert jobs["shard"]["strategy"]["fail-fast"] is False
    for job in jobs.values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)?@v\d+", step["uses"]), step["uses"]
    uses = {s["uses"].split("@")[0]: s for j in jobs.values() for s in j["steps"] if "uses" in s}
    assert uses["actions/cache/restore"]["with"]["path"] == ".ckspec/failures"
    assert uses["actions/cache/save"]["with"]["path"] == ".ckspec/failures"
    assert "ckspec-junit.xml" in uses["mikepenz/action-junit-report"]["with"]["report_paths"]


def test_every_ckspec_command_in_it_parses():
    flow = _workflow()
    env = {**flow["env"], "SHARD": "2"}
    scripts = [s["run"] for j in flow["jobs"].values() for s in j["steps"] if "run" in s]
    commands = [c for script in scripts for c in _commands(script)]
    assert {c.split()[1] for c in commands} == {"check", "report"}
    for command in commands:
        argv = [re.sub(r"\$(\w+)", lambda m: env[m.group(1)], a) for a in shlex.split(command)]
        args = build_parser().parse_args(argv[1:])  # a bad flag raises (CliError)
        assert callable(args.run)
    check = next(c for c in commands if c.startswith("ckspec check"))
    for flag in ("--target", "--seed", "--shard", "--json", "--junit"):
        assert flag in check


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=600)


def _run_campaign(tmp: Path, target: str, previous_failures: Path | None = None) -> tuple[Path, dict[str, str]]:
    """The shard jobs, then the merge job up to the gate; the merge's folder and its outputs."""
    flow = _workflow()
    env = {**{k: str(v) for k, v in flow["env"].items()}, "TARGET": target, "EXAMPLES": "24", "STEPS": "25"}
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    artifacts = tmp / "merge" / "shards"
    for k in shard_job["strategy"]["matrix"]["shard"]:
        folder = tmp / f"shard-{k}"
        folder.mkdir(parents=True)
        if k == 1 and previous_failures is not None:  # actions/cache/restore, shard 1 only
            shutil.copytree(previous_failures, folder / ".ckspec" / "failures")
        done = _bash(_step(shard_job, "check")["run"], folder, {**env, "SHARD": str(k)})
        assert done.returncode == 0, done.stderr
        artifact = artifacts / f"ckspec-shard-{k}"  # upload-artifact, then download-artifact
        artifact.mkdir(parents=True)
        for name in (f"shard-{k}.json", f"junit-{k}.xml"):
            shutil.copy(folder / name, artifact / name)
        if (folder / ".ckspec" / "failures").is_dir():
            shutil.copytree(folder / ".ckspec" / "failures", artifact / ".ckspec" / "failures")
    merge = tmp / "merge"
    output = merge / "github-output"
    output.touch()
    merged = _bash(_step(merge_job, "merge the shards")["run"], merge, {**env, "GITHUB_OUTPUT": str(output)})
    assert merged.returncode == 0, merged.stderr
    collected = _bash(_step(merge_job, "collect saved failures")["run"], merge, env)
    assert collected.returncode == 0, collected.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return merge, {**env, **outputs}


def _gate(env: dict[str, str], code: str, cwd: Path, **extra: str) -> int:
    script = _step(_workflow()["jobs"]["merge"], "gate")["run"]
    return _bash(script, cwd, {**env, "CODE": code, **extra}).returncode


@pytest.mark.parametrize("target, code", [("reference", "0"), (MUTANT, "1")])
def test_the_workflow_runs_shards_merges_and_gates(tmp_path, target, code):
    import json

    merge, env = _run_campaign(tmp_path / "first", target)
    assert env["code"] == code
    report = json.loads((merge / "ckspec.json").read_text())
    assert report["examples"] == 24 and (merge / "ckspec.html").is_file() and (merge / "ckspec-junit.xml").is_file()
    assert _gate(env, env["code"], merge) == int(code)
    saved = sorted((merge / ".ckspec" / "failures").glob("*.json"))
    if target == MUTANT:
        assert report["failures"][0]["broken"] == "CONNECT-03" and saved
        # the next run: the cache restores the failures, and shard 1 replays them first
        again, _ = _run_campaign(tmp_path / "next", target, merge / ".ckspec" / "failures")
        replayed = json.loads((again / "ckspec.json").read_text())["regressions"]
        assert replayed and all(r["verdict"] == "non-conformant" for r in replayed)
    else:
        assert not saved


def test_the_gate_does_not_pass_an_inconclusive_campaign(tmp_path):
    env = {k: str(v) for k, v in _workflow()["env"].items()}
    assert _gate(env, "4", tmp_path) == 4
    assert _gate(env, "4", tmp_path, ALLOW_INCONCLUSIVE="true") == 0
    assert _gate(env, "2", tmp_path) == 2  # a shard missing: the merge refused


def test_the_ci_page_reads_the_exit_codes_as_cli_exit_codes_defines_them():
    """docs/ci.md's gate table covers every code a check or a merge returns, with its meaning."""
    from ckspec import exit_codes

    page = (ROOT / "docs" / "ci.md").read_text()
    rows = dict(re.findall(r"^\| (\d+) \| ([^|]+) \|", page, flags=re.M))
    assert set(map(int, rows)) == set(exit_codes.CODES.values()) - {exit_codes.INTERRUPTED}
    words = {exit_codes.OK: "conformant", exit_codes.FAILED: "non-conformant", exit_codes.USAGE: "usage error",
             exit_codes.UNREACHABLE: "unreachable", exit_codes.INCONCLUSIVE: "inconclusive",
             exit_codes.INTERNAL: "bug in ckspec"}
    for code, word in words.items():
        assert word in rows[str(code)], (code, rows[str(code)])
    assert "examples/github-actions/ckspec.yml" in page and "ckspec report merge" in page
