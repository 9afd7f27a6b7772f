"""workflows.deploy.deploy in-process, on the fakes of workflows.ports (tests/fakes/ports.py): helm's
releases (FakeHelm), the cluster's objects (FakeKube) and its Secrets (FakeSecretObjects).

The subject is the orchestration: when a revision is made and when not, what stops before any
write, and what --atomic undoes. The chart check runs too, over FakeHelm's small manifest (what the
fake does not render, it cannot check: the real chart's manifests are checked in
tests/integration against the real chart, helm and API server).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from tests.fakes.ports import FakeHelm, FakeKube, FakeSecretObjects
from vllmctl.adapters.chart_source import CHART_NAME, ChartRef
from vllmctl.core.preflight import ClusterFacts, NodeFacts
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, OperationFailed, RolloutFailed
from vllmctl.workflows.connection import Context
from vllmctl.workflows.deploy import DeployOptions, DeployResult, deploy

GPU_NODE = ClusterFacts(nodes=[NodeFacts("gpu-1", {"nvidia.com/gpu": 4})], storage_classes=["standard"],
                        default_storage_class="standard", runtime_classes=["nvidia"])
MODELS = """\
- name: alpha
  modelURL: facebook/opt-125m
  requestGPU: 1
  hfTokenRequired: false
"""


@pytest.fixture(autouse=True)
def _no_secrets_in_environment(monkeypatch):
    for var in ("VLLM_HF_TOKEN", "VLLM_API_KEY", "VAULT_TOKEN", "VAULT_ADDR"):
        monkeypatch.delenv(var, raising=False)


@dataclasses.dataclass
class Cluster:
    """One fake cluster with helm, and the models file the runs read."""

    ctx: Context
    helm: FakeHelm
    kube: FakeKube
    secrets: FakeSecretObjects

    @property
    def models_file(self):
        return self.ctx.settings.models_path

    def deploy(self, **opts) -> DeployResult:
        return deploy(self.ctx.settings, DeployOptions(**{"wait": False, **opts}), ctx=self.ctx)

    def revisions(self):
        return self.helm.releases.get(("vllm", "vllm"), [])


def _cluster(tmp_path, *, namespaces=("vllm",), facts=GPU_NODE, chart_version: str | None = None) -> Cluster:
    (tmp_path / "models.yaml").write_text(MODELS)
    settings = Settings(models_file=str(tmp_path / "models.yaml"))
    if chart_version:
        settings = dataclasses.replace(settings, chart_version=chart_version)
    version = settings.chart_version
    chart = ChartRef(CHART_NAME, "https://charts.test", version, version, False)
    secrets = FakeSecretObjects(namespaces=namespaces)
    kube = FakeKube(namespaces=namespaces, facts=facts, secrets=secrets)
    helm = FakeHelm()
    return Cluster(Context(settings, chart, helm, kube, secrets), helm, kube, secrets)


def test_a_first_install_applies_once_and_records_the_revision(tmp_path):
    c = _cluster(tmp_path)
    result = c.deploy()
    assert result.changed and result.revision == 1
    assert c.helm.writes == [("upgrade_install", "vllm", "vllm")]
    [revision] = c.revisions()
    assert revision.status == "deployed" and revision.chart == c.ctx.chart.label
    assert [spec["name"] for spec in revision.values["servingEngineSpec"]["modelSpec"]] == ["alpha"]
    # the values point at the API key Secret the run made; the key itself is in no value
    assert revision.values["servingEngineSpec"]["vllmApiKey"] == {"secretName": "vllm-api-key",
                                                                  "secretKey": "api-key"}
    key = c.secrets.read_secret_value("vllm", "vllm-api-key", "api-key")
    assert key and key not in yaml.safe_dump(revision.values) + revision.manifest


@pytest.mark.parametrize(("version", "post_render"), [("0.1.8", True), ("0.1.9", True), ("0.1.10", False),
                                                   ("0.1.12", False)])
def test_helm_runs_the_post_renderer_only_for_charts_that_cannot_keep_the_claims_themselves(
        tmp_path, version, post_render):
    c = _cluster(tmp_path, chart_version=version)
    c.deploy()
    assert c.helm.post_rendered == [post_render]
    [spec] = c.revisions()[0].values["servingEngineSpec"]["modelSpec"]
    assert spec.get("pvcAnnotations") == (None if post_render else {"helm.sh/resource-policy": "keep"})


def test_the_same_values_again_make_no_new_revision_and_render_nothing(tmp_path):
    c = _cluster(tmp_path)
    c.deploy()
    templated = c.helm.templated
    again = c.deploy(mode="upgrade")
    assert not again.changed and again.revision == 1
    assert len(c.revisions()) == 1 and c.helm.writes == [("upgrade_install", "vllm", "vllm")]
    # the first guard: exactly the deployed values and chart, so not even `helm template` runs
    assert c.helm.templated == templated


def test_values_that_differ_but_render_the_same_manifest_make_no_new_revision(tmp_path):
    c = _cluster(tmp_path)
    c.deploy()
    # the deployed revision was made from one more key, which the chart ignores (the same manifest)
    c.revisions()[0].values["ignoredByTheChart"] = True
    templated = c.helm.templated
    again = c.deploy(mode="upgrade")
    assert not again.changed and again.revision == 1 and again.plan is not None and again.plan.empty
    assert len(c.revisions()) == 1 and len(c.helm.writes) == 1
    assert c.helm.templated > templated  # the second guard compared the manifests


def test_a_changed_model_makes_one_new_revision(tmp_path):
    c = _cluster(tmp_path)
    c.deploy()
    c.models_file.write_text(MODELS + "  replicaCount: 2\n")
    result = c.deploy(mode="upgrade")
    assert result.changed and result.revision == 2
    assert [r.status for r in c.revisions()] == ["superseded", "deployed"]
    assert [ch.name for ch in result.plan.changes] == ["vllm-alpha-deployment-vllm"]


def test_an_upgrade_without_a_release_is_one_line_and_writes_nothing(tmp_path):
    c = _cluster(tmp_path)
    with pytest.raises(InvalidInput) as e:
        c.deploy(mode="upgrade")
    assert e.value.message == ("no release 'vllm' in namespace 'vllm' on https://fake-cluster (context 'test'): "
                               "run `vllmctl install` first.")
    assert "\n" not in e.value.message
    assert c.helm.writes == [] and c.secrets.history == []


@pytest.mark.parametrize("status", ["pending-install", "pending-upgrade", "pending-rollback"])
def test_a_pending_release_stops_everything(tmp_path, status):
    c = _cluster(tmp_path)
    c.helm.seed("vllm", "vllm", {}, c.ctx.chart.label, status=status, manifest="")
    with pytest.raises(OperationFailed) as e:
        c.deploy()
    assert f"is stuck in {status} (revision 1)" in e.value.message
    assert c.helm.writes == [] and c.helm.templated == 0 and c.secrets.history == []


def test_preflight_asks_for_the_free_counts_of_the_gpus_the_enabled_models_hold(tmp_path):
    c = _cluster(tmp_path)
    c.deploy()
    assert c.kube.facts_resources == {"nvidia.com/gpu"}
    c.models_file.write_text(MODELS.replace("requestGPU: 1", "requestGPU: 0"))
    c.deploy(mode="upgrade")
    assert c.kube.facts_resources == frozenset()  # CPU-only: no node's pods need reading


def test_preflight_errors_stop_before_any_write(tmp_path):
    c = _cluster(tmp_path, namespaces=(), facts=ClusterFacts())  # no GPU anywhere, no namespace yet
    with pytest.raises(OperationFailed) as e:
        c.deploy()
    assert e.value.message.startswith("preflight: ") and "--skip-preflight" in (e.value.hint or "")
    assert c.helm.writes == [] and c.secrets.history == [] and c.kube.namespaces == set()


def test_atomic_rolls_a_failed_upgrade_back_to_the_revision_before(tmp_path):
    c = _cluster(tmp_path)
    c.deploy()
    before = c.revisions()[0].values
    c.models_file.write_text(MODELS + "  replicaCount: 2\n")
    c.helm.fail["upgrade_install"] = "the API server said no"
    with pytest.raises(OperationFailed) as e:
        c.deploy(mode="upgrade", atomic=True)
    assert e.value.message == ("helm could not upgrade release 'vllm': the API server said no; "
                               "rolled back to revision 1 (--atomic).")
    assert c.helm.writes[-1] == ("rollback", "vllm", "vllm", 1)
    assert [r.status for r in c.revisions()] == ["superseded", "failed", "deployed"]
    assert c.revisions()[-1].values == before


def test_without_atomic_a_failed_upgrade_is_left_as_helm_left_it(tmp_path):
    c = _cluster(tmp_path)
    c.deploy()
    c.models_file.write_text(MODELS + "  replicaCount: 2\n")
    c.helm.fail["upgrade_install"] = "the API server said no"
    with pytest.raises(OperationFailed) as e:
        c.deploy(mode="upgrade")
    assert e.value.message == "helm could not upgrade release 'vllm': the API server said no"
    assert [w[0] for w in c.helm.writes] == ["upgrade_install", "upgrade_install"]
    assert [r.status for r in c.revisions()] == ["deployed", "failed"]


def test_atomic_undoes_a_failed_first_install_with_the_namespace_it_created(tmp_path):
    c = _cluster(tmp_path, namespaces=())
    c.helm.fail["upgrade_install"] = "the API server said no"
    with pytest.raises(OperationFailed) as e:
        c.deploy(atomic=True)
    assert e.value.message.endswith("the API server said no; the release was uninstalled (--atomic); "
                                    "namespace vllm (created by this run) was deleted.")
    assert c.revisions() == [] and c.kube.namespaces == set() and c.secrets.secrets == {}


def test_atomic_undoes_a_failed_first_install_in_a_namespace_it_found_keeping_the_secrets_it_found(tmp_path):
    c = _cluster(tmp_path)
    c.secrets.apply_secret("vllm", "hf-token", "token", "hf_made_by_hand")
    c.helm.fail["upgrade_install"] = "the API server said no"
    with pytest.raises(OperationFailed) as e:
        c.deploy(atomic=True)
    assert e.value.message.endswith("the release was uninstalled (--atomic); deleted Secret/vllm-api-key (created "
                                    "by this run); the model cache volumes were kept.")
    assert c.revisions() == [] and c.kube.namespaces == {"vllm"}
    assert set(c.secrets.secrets) == {("vllm", "hf-token")}
    assert c.secrets.read_secret_value("vllm", "hf-token", "token") == "hf_made_by_hand"


def _deployed_by_an_older_chart(c: Cluster, chart: str) -> None:
    """A revision of another chart version whose Deployments have other selectors (as 0.1.9 -> 0.1.10)."""
    values = {"servingEngineSpec": {"modelSpec": [{"name": "alpha", "repository": "vllm/vllm-openai",
                                                   "tag": "v0.1", "modelURL": "facebook/opt-125m",
                                                   "replicaCount": 1, "requestGPU": 1}]}}
    docs = list(yaml.safe_load_all(FakeHelm._render("vllm", values)))
    for doc in docs:
        doc["spec"]["selector"]["matchLabels"] = {"old-chart": "yes"}
    c.helm.seed("vllm", "vllm", values, chart, manifest=yaml.safe_dump_all(docs))
    c.kube.deployments = [{"metadata": {"name": d["metadata"]["name"], "namespace": "vllm"}} for d in docs]


@pytest.mark.parametrize("recreate, confirm, said", [
    (False, None, "cannot be upgraded in place"),
    (True, None, "--recreate cancelled: nothing was changed."),
    (True, lambda question: False, "--recreate cancelled: nothing was changed."),
])
def test_a_refused_chart_move_changes_nothing_without_a_confirmed_recreate(tmp_path, recreate, confirm, said):
    c = _cluster(tmp_path, chart_version="0.1.10")
    _deployed_by_an_older_chart(c, "vllm-stack-0.1.9")
    with pytest.raises(OperationFailed) as e:
        c.deploy(mode="upgrade", recreate=recreate, confirm=confirm)
    assert said in e.value.message
    assert c.helm.writes == [] and c.secrets.history == [] and len(c.revisions()) == 1
    assert {d["metadata"]["name"] for d in c.kube.deployments} == {"vllm-alpha-deployment-vllm",
                                                                   "vllm-deployment-router"}


def test_a_confirmed_recreate_deletes_exactly_the_refused_objects_then_applies(tmp_path):
    c = _cluster(tmp_path, chart_version="0.1.10")
    _deployed_by_an_older_chart(c, "vllm-stack-0.1.9")
    asked = []
    result = c.deploy(mode="upgrade", recreate=True, confirm=lambda question: asked.append(question) or True)
    assert "Deployment/vllm-alpha-deployment-vllm" in asked[0] and "Deployment/vllm-deployment-router" in asked[0]
    assert c.kube.deployments == [] and result.revision == 2
    assert c.revisions()[-1].chart == "vllm-stack-0.1.10"


def _stuck_rollout(c: Cluster) -> None:
    """The engine's new pod cannot be scheduled (the watch reads FakeKube, not FakeHelm)."""
    labels = {"model": "alpha", "helm-release-name": "vllm"}
    c.kube.deployments = [{"metadata": {"name": "vllm-alpha-deployment-vllm", "namespace": "vllm", "generation": 2},
                           "spec": {"replicas": 2, "selector": {"matchLabels": labels}},
                           "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1,
                                      "readyReplicas": 1, "availableReplicas": 1}}]
    c.kube.pods = [{"metadata": {"name": "vllm-alpha-new", "namespace": "vllm", "labels": labels},
                    "spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
                    "status": {"phase": "Pending", "conditions": [{
                        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}]}}]
    c.ctx.settings = dataclasses.replace(c.ctx.settings, stuck_after="0s", router_enabled=False)


def test_atomic_rolls_back_an_upgrade_whose_pods_get_stuck_and_history_says_so(tmp_path):
    c = _cluster(tmp_path)
    c.deploy()
    c.models_file.write_text(MODELS + "  replicaCount: 2\n")
    _stuck_rollout(c)
    with pytest.raises(RolloutFailed) as e:
        c.deploy(mode="upgrade", atomic=True, wait=True)
    assert "Insufficient nvidia.com/gpu" in e.value.message
    assert e.value.message.endswith("; rolled back to revision 1 (--atomic).")
    assert c.helm.writes[-1] == ("rollback", "vllm", "vllm", 1)
    assert [r.status for r in c.revisions()] == ["superseded", "superseded", "deployed"]
    assert json.loads(c.kube.read_rollouts("vllm", "vllm")["2"])["outcome"] == "failed"
