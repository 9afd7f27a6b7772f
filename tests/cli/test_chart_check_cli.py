"""The chart check through the real CLI: validate runs it when a chart is at hand (and says so, with
the chart version), else prints one line that it was skipped; validate and render print each
finding as one line with its models.yaml file:line, exit 2, and write nothing."""

from __future__ import annotations

import json

from tests.helpers import run_cli, vendor_chart
from vllmctl.core.settings import Settings

# -tp given twice stays in extraArgs (the engine check warns about the repeat), so the chart gets no
# tensorParallelSize and mounts no /dev/shm: only the chart check can see that.
TWICE = """\
- name: big
  modelURL: Qwen/Qwen2.5-7B-Instruct
  requestGPU: 2
  hfTokenRequired: false
  vllmConfig:
    extraArgs: [-tp, '2', -tp, '2']
"""
GOOD = "- name: small\n  modelURL: Qwen/Qwen2.5-0.5B-Instruct\n  hfTokenRequired: false\n"


def test_validate_without_a_chart_says_the_check_was_skipped_and_how_to_enable_it(tmp_path):
    (tmp_path / "models.yaml").write_text(TWICE)
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if "chart check skipped" in line]
    assert len(skipped) == 1 and "`vllmctl chart pull`" in skipped[0] and "VLLM_CHART" in skipped[0]


def test_validate_with_the_vendored_chart_prints_each_finding_at_its_line_and_exits_2(tmp_path, real_chart):
    (tmp_path / "models.yaml").write_text(TWICE)
    vendor_chart(tmp_path, real_chart)
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: models.yaml:6:27: model 'big', Deployment/vllm-big-deployment-vllm: tensor x pipeline parallelism "
        "2 x 1 needs shared memory, but no memory-backed emptyDir is mounted at /dev/shm (NCCL fails at start); give "
        "the tensor size as vllmConfig.tensorParallelSize, once, which is what makes the chart mount it"]
    data = json.loads(run_cli("validate", "-o", "json", cwd=tmp_path).stdout)
    assert data["valid"] is False
    assert [(p["file"], p["line"], p["column"]) for p in data["problems"]] == [("models.yaml", 6, 27)]


def test_validate_names_the_chart_and_version_it_checked_against_also_from_vllm_chart(tmp_path, real_chart):
    (tmp_path / "models.yaml").write_text(GOOD)
    default = Settings().chart_version
    vendored = vendor_chart(tmp_path, real_chart)
    result = run_cli("validate", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert f"valid for {vendored.resolve()} (version {default}) (chart checked)." in result.stderr
    other = "0.1.12" if default != "0.1.12" else "0.1.10"
    result = run_cli("validate", "-o", "json", cwd=tmp_path, env={"VLLM_CHART": str(real_chart(other))})
    data = json.loads(result.stdout)
    assert data["chart_version"] == other and data["chart_check"] == {
        "chart": f"{real_chart(other).resolve()} (version {other})"}


def test_render_refuses_what_cannot_work_and_writes_nothing(tmp_path, real_chart):
    (tmp_path / "models.yaml").write_text(GOOD)
    vendor_chart(tmp_path, real_chart)
    result = run_cli("render", cwd=tmp_path, env={"VLLM_ROUTING_LOGIC": "session"})
    assert result.code == 2
    assert result.stderr.startswith("error: router, Deployment/vllm-deployment-router: routing logic session needs a "
                                    "session key")
    assert not (tmp_path / "out").exists()
    ok = run_cli("render", cwd=tmp_path, env={"VLLM_ROUTING_LOGIC": "session", "VLLM_ROUTER_SESSION_KEY": "x-user"})
    assert ok.code == 0, ok.stderr
    assert 'sessionKey: "x-user"' in (tmp_path / "out" / "values.yaml").read_text()
    (tmp_path / "models.yaml").write_text(TWICE)
    again = run_cli("render", "-d", "other", cwd=tmp_path)
    assert again.code == 2 and "models.yaml:6:27: model 'big'" in again.stderr and not (tmp_path / "other").exists()
