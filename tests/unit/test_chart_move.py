"""What the API server refuses to patch, and chart defaults that change (core.chart_move)."""

from __future__ import annotations

import yaml

from vllmctl.core.chart_move import conflicts, default_changes, merged, summary


def _doc(kind: str, name: str, spec: dict | None = None, **top) -> str:
    return "---\n" + yaml.safe_dump({"apiVersion": "v1", "kind": kind, "metadata": {"name": name},
                                     **({"spec": spec} if spec is not None else {}), **top})


def _deployment(name: str, labels: dict, replicas: int = 1) -> str:
    return _doc("Deployment", name, {"replicas": replicas, "selector": {"matchLabels": labels},
                                     "template": {"metadata": {"labels": labels}}})


def test_a_changed_selector_is_refused_a_changed_replica_count_is_not():
    old = _deployment("router", {"app": "r"}) + _deployment("engine", {"model": "m"})
    new = _deployment("router", {"app": "r", "app.kubernetes.io/name": "r"}) + _deployment("engine", {"model": "m"}, 3)
    found = conflicts(old, new)
    assert [(c.label, c.field, c.recreatable) for c in found] == [("Deployment/router", "spec.selector", True)]
    assert summary(found) == "Deployment/router (spec.selector)"


def test_objects_only_on_one_side_and_mutable_kinds_never_conflict():
    old = _deployment("gone", {"a": "1"}) + _doc("Service", "s", {"selector": {"a": "1"}})
    new = _deployment("fresh", {"a": "2"}) + _doc("Service", "s", {"selector": {"a": "2"}})
    assert conflicts(old, new) == []


def test_job_template_statefulset_claims_and_role_binding_ref():
    old = (_doc("Job", "j", {"template": {"spec": {"containers": [{"image": "a"}]}}})
           + _doc("StatefulSet", "st", {"serviceName": "x", "volumeClaimTemplates": [{"a": 1}]})
           + _doc("RoleBinding", "rb", roleRef={"kind": "Role", "name": "a"}))
    new = (_doc("Job", "j", {"template": {"spec": {"containers": [{"image": "b"}]}}})
           + _doc("StatefulSet", "st", {"serviceName": "y", "volumeClaimTemplates": [{"a": 1}]})
           + _doc("RoleBinding", "rb", roleRef={"kind": "Role", "name": "b"}))
    assert [(c.label, c.field) for c in conflicts(old, new)] == [
        ("Job/j", "spec.template"), ("RoleBinding/rb", "roleRef"), ("StatefulSet/st", "spec.serviceName")]


def test_a_service_cluster_ip_counts_only_when_the_deployed_manifest_set_it():
    assert conflicts(_doc("Service", "s", {}), _doc("Service", "s", {"clusterIP": "None"})) == []
    found = conflicts(_doc("Service", "s", {"clusterIP": "None"}), _doc("Service", "s", {}))
    assert [(c.label, c.field) for c in found] == [("Service/s", "spec.clusterIP")]


def test_a_claim_may_only_grow_and_is_never_recreated():
    def pvc(size: str, **spec) -> str:
        return _doc("PersistentVolumeClaim", "cache", {"resources": {"requests": {"storage": size}}, **spec})

    assert conflicts(pvc("10Gi"), pvc("20Gi")) == []
    shrink = conflicts(pvc("20Gi"), pvc("10Gi"))
    assert [c.field for c in shrink] == ["spec.resources.requests.storage (a claim cannot shrink)"]
    moved = conflicts(pvc("10Gi", storageClassName="a"), pvc("10Gi", storageClassName="b"))
    assert [(c.field, c.recreatable) for c in moved] == [("spec.storageClassName", False)]


def test_an_immutable_config_map_may_not_change_its_data():
    old = _doc("ConfigMap", "c", None, immutable=True, data={"a": "1"})
    assert [c.field for c in conflicts(old, _doc("ConfigMap", "c", None, immutable=True, data={"a": "2"}))] == ["data"]
    assert conflicts(_doc("ConfigMap", "c", None, data={"a": "1"}), _doc("ConfigMap", "c", None, data={"a": "2"})) == []


def test_merge_is_helms_coalescing():
    assert merged({"a": {"b": 1, "c": 2}, "l": [1], "d": 1}, {"a": {"b": 3}, "l": [2], "d": None}) == {
        "a": {"b": 3, "c": 2}, "l": [2]}


def test_default_changes_name_the_defaults_vllmctl_does_not_set():
    deployed = {"routerSpec": {"resources": {"limits": {"memory": "500Mi"}, "requests": {"cpu": "100m"}},
                               "port": 80},
                "servingEngineSpec": {"modelSpec": [{"name": "a"}]}, "cacheserverSpec": {"port": 1}}
    defaults = {"routerSpec": {"resources": {"limits": {"memory": "1000Mi"}, "requests": {"cpu": "400m"}},
                               "port": 80, "newList": [], "otel": {"enabled": False, "endpoint": "x"}},
                "servingEngineSpec": {"modelSpec": []}, "cacheserverSpec": {"port": 2}}
    values = {"routerSpec": {"resources": {"requests": {"cpu": "100m"}}},
              "servingEngineSpec": {"modelSpec": [{"name": "a", "tag": "v2"}]}}
    lines = [c.line() for c in default_changes(deployed, defaults, values)]
    # the memory limit moves underneath; the CPU request and the models are vllmctl's; an empty new
    # key, a block that is off and a section a models.yaml does not deploy are not changes
    assert lines == ["routerSpec.resources.limits.memory: '500Mi' -> '1000Mi'"]


def test_no_router_no_router_defaults():
    deployed = {"routerSpec": {"enableRouter": False, "port": 80}}
    assert default_changes(deployed, {"routerSpec": {"port": 81}}, {"routerSpec": {"enableRouter": False}}) == []
