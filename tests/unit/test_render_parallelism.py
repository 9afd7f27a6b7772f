"""Rendering where the chart offers a way: tensor parallelism from extraArgs moves to the chart's own
key (which mounts /dev/shm), "no cache volume" is the key left out, the session key is rendered;
and the engine-flag check still points at the user's own extraArgs lines afterwards."""

from __future__ import annotations

import pytest

from vllmctl.core.engine_flags import parallelism
from vllmctl.core.models_file import InvalidModels
from vllmctl.core.render import RenderRequest, render
from vllmctl.core.settings import Settings
from vllmctl.workflows import render as render_wf
from vllmctl.workflows.models import validate_text


def spec_of(text: str, settings: Settings | None = None) -> dict:
    settings = settings or Settings(chart_version="0.1.12")
    loaded = validate_text(text, "models.yaml", settings)
    values = render(RenderRequest(models=loaded.models, settings=settings, chart_version="0.1.12",
                                  source="models.yaml")).values
    return values


def one(args: list[str], gpus: int = 4, tp_key: str = "") -> dict:
    text = f"- name: m\n  modelURL: a/b\n  requestGPU: {gpus}\n  vllmConfig:\n{tp_key}    extraArgs: {args!r}\n"
    return spec_of(text)["servingEngineSpec"]["modelSpec"][0]["vllmConfig"]


@pytest.mark.parametrize("args", [["-tp", "2"], ["--tensor-parallel-size=2"], ["--tensor_parallel_size", "2"],
                                  ["--tensor-parallel", "2"]])
def test_tensor_parallelism_in_any_spelling_moves_to_the_charts_key(args):
    config = one(["--enforce-eager", *args, "--max-num-batched-tokens", "8192"])
    assert config["tensorParallelSize"] == 2
    assert config["extraArgs"] == ["--served-model-name", "m", "--enforce-eager", "--max-num-batched-tokens", "8192"]


def test_pipeline_parallelism_alone_sets_the_key_to_one_so_the_chart_mounts_shm():
    config = one(["-pp", "2"])
    assert config["tensorParallelSize"] == 1 and config["extraArgs"][2:] == ["-pp", "2"]


def test_no_parallelism_renders_no_key():
    assert "tensorParallelSize" not in one(["--enforce-eager"])


def test_a_flag_beside_the_key_or_given_twice_stays_for_the_engine_check_to_report():
    beside = parallelism(2, ["-tp", "2"])
    assert (beside.fold, beside.chart_key, beside.tensor) == ((), None, 2)
    twice = parallelism(None, ["-tp", "2", "--tensor-parallel-size", "4"])
    assert (twice.fold, twice.chart_key, twice.tensor, twice.tensor_at) == ((), None, 4, ("vllmConfig", "extraArgs", 2))
    bad = parallelism(None, ["-tp", "two"])
    assert (bad.fold, bad.tensor) == ((), 1)


def test_engine_problems_still_point_at_the_users_extra_args_after_the_fold(tmp_path):
    text = "- name: m\n  modelURL: a/b\n  requestGPU: 2\n  vllmConfig:\n    extraArgs: [-tp, '2', --bogus-flag]\n"
    settings = Settings(chart_version="0.1.12")
    with pytest.raises(InvalidModels) as info:
        render_wf.render_models(settings, loaded=validate_text(text, "models.yaml", settings))
    (problem,) = info.value.problems
    assert (problem.line, problem.column) == (5, 27) and "(vllmConfig.extraArgs[2])" in problem.message


def test_no_cache_volume_is_the_key_left_out():
    values = spec_of("- name: m\n  modelURL: a/b\n  pvcStorage: ''\n- name: n\n  modelURL: a/c\n")
    first, second = values["servingEngineSpec"]["modelSpec"]
    assert "pvcStorage" not in first and second["pvcStorage"] == "50Gi"


def test_the_session_key_is_rendered_only_when_set():
    assert "sessionKey" not in spec_of("- name: m\n  modelURL: a/b\n")["routerSpec"]
    settings = Settings(chart_version="0.1.12", routing_logic="session", router_session_key="x-user-id")
    assert spec_of("- name: m\n  modelURL: a/b\n", settings)["routerSpec"]["sessionKey"] == "x-user-id"
