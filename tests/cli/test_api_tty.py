"""On a terminal: test-completions and bench offer the models of models.yaml; bench shows progress."""

from __future__ import annotations

from tests.cli.tty import TTYSession
from tests.fakes.openai_server import Behavior, FakeOpenAI


def test_choose_a_model_then_see_bench_progress(tmp_path):
    (tmp_path / "models.yaml").write_text(
        "- name: a\n  modelURL: o/a\n- name: off\n  modelURL: o/off\n  enabled: false\n- name: m\n  modelURL: o/m\n"
    )
    with FakeOpenAI(models=["m"], behavior=Behavior(itl=0.01, tokens=5)) as server:
        env = {"VLLM_URL": server.url, "VLLM_API_KEY_ENABLED": "false", "HOME": str(tmp_path)}
        session = TTYSession("test-completions", "--chat", cwd=tmp_path, env=env)
        session.expect("Model:")
        assert "1) a" in session.seen and "2) m" in session.seen and "off" not in session.seen
        session.send("2")
        assert session.wait() == 0, session.seen
        assert " t0 t1 t2 t3 t4" in session.seen and server.requests[-1].body["model"] == "m"

        session = TTYSession("bench", "m", "-N", "30", "-c", "2", cwd=tmp_path, env=env)
        assert session.wait() == 0, session.seen
        assert "█" in session.seen and "30/30 requests" in session.seen
        assert "completed 30, failed 0" in session.seen
