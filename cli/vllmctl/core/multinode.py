"""Multi-node models: one engine over several nodes through the chart's `raySpec` (a KubeRay
RayCluster: a head pod and `nodes - 1` worker pods, each holding the model's requestGPU), with
tensor parallelism inside a node and pipeline parallelism across nodes, as vLLM recommends.

Facts of the chart (every version 0.1.8-0.1.12): `templates/ray-cluster.yaml` renders the
RayCluster (`ray.io/v1`) with the head's resources from `raySpec.headNode` and `replicaCount`
workers with the model's own; the Deployment and the ScaledObject are not rendered then; the head
runs `vllm serve ... --distributed-executor-backend ray` from a ConfigMap script once all nodes
joined. Before 0.1.11 any `raySpec` key switches a model to Ray; from 0.1.11 `raySpec.enabled`.
Both pods mount /dev/shm only when `vllmConfig.tensorParallelSize` is present, and the head sets
VLLM_USE_V1=0 unless `vllmConfig.v1` is given (vLLM's V0 engine is gone from current releases).
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vllmctl.core.models import ModelEntry
    from vllmctl.core.rollout import ModelProgress

RAY_API = "ray.io/v1"
KIND = "RayCluster"
# ARGS=( ... ) and ARGS+=( ... ) of the chart's start script, over lines, with quoted parentheses
START_SCRIPT = re.compile(r"\bARGS\+?=\(((?:[^()\"']|\"(?:[^\"\\]|\\.)*\"|'[^']*')*)\)", re.S)


def cluster_name(release: str, model: str) -> str:
    return f"{release}-{model}-raycluster"


def pods(m: ModelEntry) -> int:
    """The pods a model runs once rolled out: its Ray nodes, else its replicas (an autoscaled model
    starts at its minimum)."""
    if m.multiNode is not None:
        return m.multiNode.nodes
    return m.autoscaling.minReplicas if m.autoscaling else m.replicaCount


def problems(m: ModelEntry) -> list[tuple[tuple, str]]:
    """models.yaml rules of a multi-node entry: (path within the entry, message)."""
    if m.multiNode is None:
        return []
    nodes, par, out = m.multiNode.nodes, m.parallelism, []
    if m.requestGPU < 1:
        return [(("requestGPU",), "a multi-node model needs GPUs on every node: set requestGPU (GPUs per node)")]
    total = nodes * m.requestGPU
    if par.size != total:
        out.append((par.at or ("multiNode", "nodes"),
                    f"the Ray cluster holds {nodes} nodes x {m.requestGPU} GPUs = {total}, but tensor x pipeline "
                    f"parallelism {par.tensor} x {par.pipeline} uses {par.size}: set tensorParallelSize to the GPUs "
                    f"per node ({m.requestGPU}) and pipelineParallelSize to the nodes ({nodes})"))
    if "replicaCount" in m.model_fields_set and m.replicaCount != 1:
        out.append((("replicaCount",), "a multi-node model runs as one Ray cluster (the chart counts its "
                                       "workers in replicaCount, which vllmctl sets from multiNode.nodes): "
                                       "remove replicaCount"))
    if m.autoscaling is not None:
        out.append((("autoscaling",), "the chart has no autoscaling for a Ray cluster: remove autoscaling or "
                                      "multiNode"))
    if m.chatTemplate:
        out.append((("chatTemplate",), "the chart's Ray template mounts the chat template from a volume it does not "
                                       "define, so the pods would be refused: pass the template another way "
                                       "(extraArgs --chat-template with a path in the image), or drop multiNode"))
    return out


def warnings(m: ModelEntry) -> list[str]:
    if m.multiNode is None:
        return []
    par, out = m.parallelism, []
    if par.tensor > m.requestGPU:
        out.append(f"model {m.name!r}: tensor parallelism {par.tensor} spans nodes of {m.requestGPU} GPUs, so its "
                   "all-reduce runs over the network on every token; prefer tensorParallelSize = requestGPU and "
                   "pipelineParallelSize = multiNode.nodes")
    if m.startupTimeout:
        out.append(f"model {m.name!r}: startupTimeout is not used by the chart's Ray template (its head waits "
                   "7.5 minutes for the nodes to join, then for /health without a deadline)")
    return out


def ray_values(m: ModelEntry) -> dict:
    """The chart's `raySpec` for a multi-node model: the head is a node like the workers."""
    head = {"requestCPU": m.requestCPU, "requestMemory": m.requestMemory, "requestGPU": m.requestGPU}
    for key in ("requestGPUType", "limitCPU", "limitMemory"):
        if getattr(m, key) is not None:
            head[key] = getattr(m, key)
    return {"enabled": True, "headNode": head}


# ---------------------------------------------------------------------- the chart check
def start_args(script: str) -> list[str]:
    """The `vllm serve` argv of the chart's Ray start script (its ARGS=(...) and ARGS+=(...) lines)."""
    out: list[str] = []
    for m in START_SCRIPT.finditer(script or ""):
        try:
            out += shlex.split(m.group(1))
        except ValueError:
            continue
    return out[out.index("serve") + 1:] if "serve" in out else out


# ---------------------------------------------------------------------- the rollout
def progress(model: str, name: str, nodes: int, pods_json: list[dict], events: list[dict]) -> ModelProgress:
    """A multi-node model's row in the rollout watch: the pods of RayCluster `name` (KubeRay labels
    them `ray.io/cluster`), done when all `nodes` are Ready (the head's readiness is vLLM's /health)."""
    from vllmctl.core.rollout import ModelProgress, latest_warning, pod_state

    mine = [p for p in pods_json if ((p.get("metadata") or {}).get("labels") or {}).get("ray.io/cluster") == name
            and not (p.get("metadata") or {}).get("deletionTimestamp")]
    states = [pod_state(p) for p in mine]
    ready = sum(s.ready for s in states)
    done = ready >= nodes and len(states) == nodes
    not_ready = [s for s in states if not s.ready]
    phase = ("Ready" if done else not_ready[0].phase if not_ready else
             "waiting for the KubeRay operator to create the pods" if not states else "Progressing")
    event = latest_warning(events, {s.name for s in states} | {name})
    warning = f"{event.get('reason')}: {(event.get('message') or '').strip()}" if event else ""
    return ModelProgress(model, f"{KIND}/{name}", ready, nodes, phase, warning, done, states)
