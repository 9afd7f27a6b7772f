"""Moving a release to another manifest: what the API server refuses to patch, and which chart
defaults change underneath the values vllmctl sets.

Pure: manifest texts and values dicts in, findings out. Helm patches each object from the
deployed manifest to the new one; fields the API server treats as immutable make that patch fail
(`field is immutable`) halfway through an upgrade. Comparing the two manifests finds them before
anything is changed. Moving chart 0.1.8/0.1.9 to 0.1.10 or later changes every Deployment's
selector (the `app.kubernetes.io/*` labels), for example.
"""

from __future__ import annotations

from dataclasses import dataclass

from vllmctl.core.plan import objects

# Per kind: the spec paths the API server never lets an update change.
_IMMUTABLE = {
    "Deployment": (("spec", "selector"),),
    "ReplicaSet": (("spec", "selector"),),
    "DaemonSet": (("spec", "selector"),),
    "StatefulSet": (("spec", "selector"), ("spec", "serviceName"), ("spec", "volumeClaimTemplates"),
                    ("spec", "podManagementPolicy")),
    "Job": (("spec", "selector"), ("spec", "template"), ("spec", "completionMode")),
    "Service": (("spec", "clusterIP"),),
    "RoleBinding": (("roleRef",),),
    "ClusterRoleBinding": (("roleRef",),),
}
# Deleting these loses data (a model cache) or keys: --recreate never does.
KEEP_KINDS = frozenset({"PersistentVolumeClaim", "Secret"})
_MISSING = object()


@dataclass(frozen=True)
class Conflict:
    kind: str
    name: str
    field: str

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def recreatable(self) -> bool:
        return self.kind not in KEEP_KINDS

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "field": self.field, "recreatable": self.recreatable}


def _at(obj: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _pvc_fields(before: dict, after: dict) -> list[str]:
    """A claim's spec may only grow resources.requests.storage."""
    old, new = dict(before.get("spec") or {}), dict(after.get("spec") or {})
    old_size = (old.pop("resources", None) or {}).get("requests", {}).get("storage")
    new_size = (new.pop("resources", None) or {}).get("requests", {}).get("storage")
    fields = [f"spec.{key}" for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
    if old_size and new_size and old_size != new_size:
        from vllmctl.core.quantity import parse_quantity

        if parse_quantity(new_size) < parse_quantity(old_size):
            fields.append("spec.resources.requests.storage (a claim cannot shrink)")
    return fields


def _fields(before: dict, after: dict) -> list[str]:
    kind = before.get("kind", "")
    if kind == "PersistentVolumeClaim":
        return _pvc_fields(before, after)
    if kind in ("ConfigMap", "Secret") and before.get("immutable") is True:
        return [key for key in ("data", "binaryData", "stringData") if before.get(key) != after.get(key)]
    out = []
    for path in _IMMUTABLE.get(kind, ()):
        old, new = _at(before, path), _at(after, path)
        # a field the deployed manifest never set was defaulted by the server: setting it is a change
        # only when the old manifest set it too (clusterIP) or it is structural (selectors always are)
        if old != new and not (old is _MISSING and path[-1] == "clusterIP"):
            out.append(".".join(path))
    return out


def conflicts(deployed_manifest: str, new_manifest: str) -> list[Conflict]:
    """The objects in both manifests whose change the API server would refuse, by kind and name."""
    old, new = objects(deployed_manifest), objects(new_manifest)
    found = []
    for key in sorted(set(old) & set(new)):
        for field in _fields(old[key], new[key]):
            found.append(Conflict(key[0], key[1], field))
    return found


def summary(found: list[Conflict]) -> str:
    """`Deployment/a, Deployment/b (spec.selector)`: the objects, grouped by field."""
    by_field: dict[str, list[str]] = {}
    for c in found:
        by_field.setdefault(c.field, [])
        if c.label not in by_field[c.field]:
            by_field[c.field].append(c.label)
    return "; ".join(f"{', '.join(labels)} ({field})" for field, labels in by_field.items())


# ---------------------------------------------------------------------- chart defaults
def merged(defaults: dict, values: dict) -> dict:
    """Helm's coalescing of user values over chart defaults: maps merge, anything else replaces,
    null deletes a default."""
    out = dict(defaults or {})
    for key, value in (values or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def _leaves(value, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(_leaves(item, (*prefix, str(key))))
        return out
    return {prefix: value}


def _set_by(values: dict, path: tuple[str, ...]) -> bool:
    """True when `values` sets this path or a map above it ends in a non-map (vllmctl decides it)."""
    node = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return not isinstance(node, dict)
        node = node[key]
    return True


def _shown(value) -> str:
    return "(unset)" if value is _MISSING else repr(value)


@dataclass(frozen=True)
class DefaultChange:
    path: str
    before: object
    after: object

    def line(self) -> str:
        return f"{self.path}: {_shown(self.before)} -> {_shown(self.after)}"

    def as_dict(self) -> dict:
        return {"path": self.path, "before": None if self.before is _MISSING else self.before,
                "after": None if self.after is _MISSING else self.after}


# What a models.yaml deploys: the engines' shared settings and the router (when it runs). The
# other sections (cache server, LoRA controller, monitoring, ...) stay off unless enabled by hand.
_SECTIONS = ("servingEngineSpec", "routerSpec")


def default_changes(deployed_computed: dict, new_defaults: dict, new_values: dict) -> list[DefaultChange]:
    """Chart defaults the deployed release runs with (`helm get values --all`) that the new chart
    changes, for the keys vllmctl's values do not set."""
    after = merged(new_defaults, new_values)
    sections = [s for s in _SECTIONS
                if not (s == "routerSpec" and (after.get(s) or {}).get("enableRouter") is False)]
    old = {p: v for s in sections for p, v in _leaves(deployed_computed.get(s) or {}, (s,)).items()}
    new = {p: v for s in sections for p, v in _leaves(after.get(s) or {}, (s,)).items()}
    changes = []
    for path in sorted(set(old) | set(new)):
        before, now = old.get(path, _MISSING), new.get(path, _MISSING)
        if before == now or _set_by(new_values, path) or _off(after, path) or _off(deployed_computed, path):
            continue
        if _MISSING in (before, now) and _empty(now if before is _MISSING else before):
            continue  # a new (or dropped) key that is empty or off changes nothing
        changes.append(DefaultChange(".".join(path), before, now))
    return changes


def _empty(value) -> bool:
    return value is None or value is False or value in ("", 0) or value == [] or value == {}


def _off(values: dict, path: tuple[str, ...]) -> bool:
    """Under a block that is switched off (`enabled: false`) or absent: its settings do nothing."""
    node = values
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return True
        if child.get("enabled") is False:
            return True
        node = child
    return False
