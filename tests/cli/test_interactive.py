"""Prompts on a TTY: add-model asks the seed's questions; remove-model offers a choice and confirms."""

from __future__ import annotations

import yaml

from tests.cli.tty import TTYSession


def test_add_model_prompts_for_every_answer(tmp_path):
    session = TTYSession("add-model", cwd=tmp_path)
    for question, answer in [
        ("Model name", "phi4"),
        ("Hugging Face model id", "microsoft/Phi-4-mini-instruct"),
        ("GPUs per pod", "1"),
        ("Replicas", "2"),
        ("Memory per pod", "24Gi"),
        ("Model cache size", "30Gi"),
    ]:
        session.expect(question)
        session.send(answer)
    assert session.wait() == 0, session.seen
    models = yaml.safe_load((tmp_path / "models.yaml").read_text())
    phi = models[-1]
    assert (phi["name"], phi["modelURL"], phi["replicaCount"], phi["requestMemory"], phi["pvcStorage"]) == (
        "phi4", "microsoft/Phi-4-mini-instruct", 2, "24Gi", "30Gi")


def test_remove_model_offers_a_choice_and_asks_before_removing(tmp_path):
    path = tmp_path / "models.yaml"
    original = "- name: a\n  modelURL: o/a\n\n- name: b\n  modelURL: o/b\n"
    path.write_text(original)
    declined = TTYSession("remove-model", cwd=tmp_path)
    declined.expect("Model to remove")
    declined.send("2")
    declined.expect("Remove model 'b'")
    declined.send("n")
    assert declined.wait() == 0
    assert path.read_text() == original
    accepted = TTYSession("remove-model", "b", cwd=tmp_path)
    accepted.expect("Remove model 'b'")
    accepted.send("y")
    assert accepted.wait() == 0
    assert path.read_text() == "- name: a\n  modelURL: o/a\n"
