"""Manifest plans, secret masking and the keep-claims post-renderer."""

from __future__ import annotations

import yaml

from vllmctl.core.plan import KEEP_ANNOTATION, MASK, MASK_CHANGED, claims_kept, keep_claims, plan, same_release

DEP = """---
# Source: x/templates/d.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  replicas: {replicas}
"""
SECRET = """---
apiVersion: v1
kind: Secret
metadata:
  name: s
data:
  hf_token_a: {value}
"""


def test_no_changes_is_empty_whatever_the_order():
    a = DEP.format(replicas=1) + SECRET.format(value="c2VjcmV0")
    b = SECRET.format(value="c2VjcmV0") + DEP.format(replicas=1)
    p = plan(a, b)
    assert p.empty and p.summary() == "no changes"


def test_change_add_remove():
    old = DEP.format(replicas=1) + "---\nkind: Service\nmetadata:\n  name: gone\n"
    new = DEP.format(replicas=2) + "---\nkind: ConfigMap\nmetadata:\n  name: fresh\n"
    p = plan(old, new)
    assert [(c.action, c.label) for c in p.changes] == [
        ("add", "ConfigMap/fresh"), ("change", "Deployment/d"), ("remove", "Service/gone")]
    change = p.changes[1].diff
    assert "-  replicas: 1" in change and "+  replicas: 2" in change
    assert p.summary() == "1 to add, 1 to change, 1 to remove"


def test_secret_values_never_shown():
    p = plan(SECRET.format(value="b2xkLXNlY3JldA=="), SECRET.format(value="bmV3LXNlY3JldA=="))
    text = "".join(c.diff for c in p.changes)
    assert "b2xk" not in text and "bmV3" not in text
    assert MASK in text and MASK_CHANGED in text
    added = plan("", SECRET.format(value="bmV3LXNlY3JldA==")).changes[0].diff
    assert "bmV3" not in added and MASK in added
    assert "bmV3" not in str(plan("", SECRET.format(value="bmV3LXNlY3JldA==")).as_dict())


def test_same_release():
    assert same_release({"a": 1}, {"a": 1}, "vllm-stack-0.1.8", "vllm-stack-0.1.8")
    assert not same_release({"a": 1}, {"a": 2}, "vllm-stack-0.1.8", "vllm-stack-0.1.8")
    assert not same_release({"a": 1}, {"a": 1}, "vllm-stack-0.1.8", "vllm-stack-0.1.9")


def test_keep_claims_annotates_only_pvcs():
    text = DEP.format(replicas=1) + (
        "---\n# Source: x/templates/pvc.yaml\napiVersion: v1\nkind: PersistentVolumeClaim\n"
        "metadata:\n  name: c\n  annotations:\n    a: b\nspec:\n  resources:\n    requests:\n      storage: 1Gi\n")
    out = keep_claims(text)
    docs = [d for d in yaml.safe_load_all(out) if d]
    pvc = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    assert pvc["metadata"]["annotations"] == {"a": "b", KEEP_ANNOTATION: "keep"}
    assert "# Source: x/templates/d.yaml" in out  # untouched documents stay as written
    assert next(d for d in docs if d["kind"] == "Deployment")["spec"]["replicas"] == 1


def test_claims_kept_only_where_the_chart_annotates_every_claim_the_values_make():
    keep = {KEEP_ANNOTATION: "keep"}

    def values(*specs, shared=False):
        return {"servingEngineSpec": {"modelSpec": list(specs)}, "sharedPvcStorage": {"enabled": shared}}

    cached = {"name": "a", "pvcStorage": "10Gi", "pvcAnnotations": keep}
    assert claims_kept(values(cached, {"name": "b"}), "0.1.10")  # b makes no claim
    assert claims_kept(values(), "0.1.12")
    assert not claims_kept(values(cached), "0.1.9")  # the chart ignores pvcAnnotations there
    assert not claims_kept(values(cached, {"name": "b", "pvcStorage": "1Gi"}), "0.1.12")
    assert not claims_kept(values(cached, {"name": "b", "pvcStorage": "1Gi", "pvcAnnotations": {"x": "y"}}), "0.1.12")
    assert not claims_kept(values(cached, shared=True), "0.1.12")  # the shared claim takes no annotations
