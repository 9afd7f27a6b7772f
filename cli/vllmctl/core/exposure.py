"""How the router is reached from outside the cluster: the routerSpec values and their rules.

VLLM_ROUTER_EXPOSE picks one way: a NodePort or LoadBalancer Service, an Ingress (host, class,
TLS from a Secret) or a Gateway API HTTPRoute (every chart version 0.1.8..0.1.12 has
routerSpec.ingress and routerSpec.route; a fixed nodePort needs 0.1.11).
"""

from __future__ import annotations

from vllmctl.core import chart
from vllmctl.core.settings import Settings

NODE_PORTS = range(30000, 32768)  # the API server's default --service-node-port-range
SERVICE_TYPES = {"none": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer",
                 "ingress": "ClusterIP", "gateway": "ClusterIP"}
ROUTE_API = "gateway.networking.k8s.io/v1"  # the chart's default route apiVersion in every version
NODE_PORT_SINCE = "0.1.11"
IMAGE_PULL_SECRETS_SINCE = "0.1.9"


def pull_secrets(s: Settings) -> list[str]:
    return [name.strip() for name in s.router_image_pull_secrets.split(",") if name.strip()]


def problems(s: Settings, chart_version: str) -> list[str]:
    """Settings that cannot work together, each a line naming the variable to change."""
    out = []
    how = s.router_expose
    if how != "none" and not s.router_enabled:
        out.append(f"VLLM_ROUTER_EXPOSE={how} needs the router: set VLLM_ROUTER_ENABLED=true "
                   "or VLLM_ROUTER_EXPOSE=none")
    if how == "ingress" and not s.router_host:
        out.append("VLLM_ROUTER_EXPOSE=ingress needs VLLM_ROUTER_HOST, the host name clients use (llm.example.com)")
    if how == "gateway" and not s.gateway:
        out.append("VLLM_ROUTER_EXPOSE=gateway needs VLLM_GATEWAY, the Gateway to attach to (NAME or NAMESPACE/NAME)")
    if s.gateway and how != "gateway":
        out.append(f"VLLM_GATEWAY is set but VLLM_ROUTER_EXPOSE is {how}: set VLLM_ROUTER_EXPOSE=gateway or unset it")
    if s.gateway and len(s.gateway.split("/")) > 2:
        out.append(f"VLLM_GATEWAY={s.gateway!r}: give NAME or NAMESPACE/NAME")
    if s.router_host and how not in ("ingress", "gateway"):
        out.append(f"VLLM_ROUTER_HOST is set but VLLM_ROUTER_EXPOSE is {how}: a host name needs ingress or gateway")
    if s.router_tls_secret and how != "ingress":
        out.append("VLLM_ROUTER_TLS_SECRET is for the Ingress; with a Gateway, TLS is the Gateway listener's "
                   "(certificateRefs): unset it or use VLLM_ROUTER_EXPOSE=ingress")
    if s.ingress_class and how != "ingress":
        out.append(f"VLLM_INGRESS_CLASS is set but VLLM_ROUTER_EXPOSE is {how}: set VLLM_ROUTER_EXPOSE=ingress")
    if s.router_node_port:
        if how != "nodeport":
            out.append(f"VLLM_ROUTER_NODE_PORT is set but VLLM_ROUTER_EXPOSE is {how}: set VLLM_ROUTER_EXPOSE=nodeport")
        elif s.router_node_port not in NODE_PORTS:
            out.append(f"VLLM_ROUTER_NODE_PORT={s.router_node_port} is outside the NodePort range "
                       f"{NODE_PORTS.start}-{NODE_PORTS.stop - 1}")
        elif not chart.at_least(chart_version, NODE_PORT_SINCE):
            out.append(f"VLLM_ROUTER_NODE_PORT needs vllm-stack chart {NODE_PORT_SINCE} or newer; "
                       f"VLLM_CHART_VERSION is {chart_version}")
    if pull_secrets(s) and not chart.at_least(chart_version, IMAGE_PULL_SECRETS_SINCE):
        out.append(f"VLLM_ROUTER_IMAGE_PULL_SECRETS needs vllm-stack chart {IMAGE_PULL_SECRETS_SINCE} or newer; "
                   f"VLLM_CHART_VERSION is {chart_version}")
    return out


def warnings(s: Settings) -> list[str]:
    if s.router_expose != "none" and not s.api_key_enabled:
        return [f"the router is exposed outside the cluster (VLLM_ROUTER_EXPOSE={s.router_expose}) without an "
                "API key: anyone who reaches it can use the GPUs; set VLLM_API_KEY_ENABLED=true"]
    return []


def router_values(s: Settings) -> dict:
    """What routerSpec gets for the exposure settings (merged into the rendered routerSpec)."""
    how = s.router_expose
    values: dict = {}
    if how != "none":
        values["serviceType"] = SERVICE_TYPES[how]
    if how == "nodeport" and s.router_node_port:
        values["nodePort"] = s.router_node_port
    if how == "ingress":
        ingress: dict = {"enabled": True,
                         "hosts": [{"host": s.router_host, "paths": [{"path": "/", "pathType": "Prefix"}]}]}
        if s.ingress_class:
            ingress["className"] = s.ingress_class
        if s.router_tls_secret:
            ingress["tls"] = [{"secretName": s.router_tls_secret, "hosts": [s.router_host]}]
        values["ingress"] = ingress
    if how == "gateway":
        namespace, _, name = s.gateway.rpartition("/")
        ref = {"name": name, **({"namespace": namespace} if namespace else {})}
        route: dict = {"enabled": True, "parentRefs": [ref]}
        if s.router_host:
            route["hostnames"] = [s.router_host]
        values["route"] = {"main": route}
    if pull_secrets(s):
        values["imagePullSecrets"] = [{"name": n} for n in pull_secrets(s)]
    return values


def route_api_version(s: Settings) -> str | None:
    return ROUTE_API if s.router_expose == "gateway" else None


def external_url(s: Settings) -> str | None:
    """The URL clients outside the cluster use, when the settings alone say it."""
    if s.router_expose == "ingress":
        return f"{'https' if s.router_tls_secret else 'http'}://{s.router_host}/v1"
    if s.router_expose == "gateway" and s.router_host:
        return f"http://{s.router_host}/v1"
    return None
