"""What an upgrade would change: rendered manifests against the deployed release, object by object.

Pure: manifest texts in, a Plan out. Secret values never reach the output: every value under a
Secret's `data`/`stringData` is replaced by a marker that only says whether it changed.
Also here: the post-render step that marks cache volumes `helm.sh/resource-policy: keep`, so
`helm uninstall` (and removing a model) never deletes downloaded models, and when the chart
marks them itself instead (its `pvcAnnotations`, 0.1.10+).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

MASK = "(masked)"
MASK_CHANGED = "(masked, changed)"
KEEP_ANNOTATION = "helm.sh/resource-policy"
# The first chart version whose model cache claims take `pvcAnnotations` (the shared cache's never does).
CLAIM_ANNOTATIONS_SINCE = "0.1.10"


def _load_all(text: str) -> list:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(text or "", Loader=loader) if isinstance(doc, dict)]


def _dump(obj: dict) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(obj, Dumper=dumper, sort_keys=True, default_flow_style=False, width=1000)


def key_of(obj: dict) -> tuple[str, str]:
    return obj.get("kind", "?"), (obj.get("metadata") or {}).get("name", "?")


def objects(manifest_text: str) -> dict[tuple[str, str], dict]:
    """The objects of a manifest stream, by (kind, name)."""
    return {key_of(obj): obj for obj in _load_all(manifest_text)}


def _masked(obj: dict, other: dict | None) -> dict:
    """Secret values replaced by MASK; with `other` (the deployed object), MASK_CHANGED where they differ."""
    if obj.get("kind") != "Secret":
        return obj
    masked = dict(obj)
    for section in ("data", "stringData"):
        values = obj.get(section)
        if not isinstance(values, dict):
            continue
        theirs = ((other or {}).get(section) or {}) if other else {}
        masked[section] = {
            k: MASK if other is None or theirs.get(k) == v else MASK_CHANGED for k, v in values.items()
        }
    return masked


@dataclass(frozen=True)
class Change:
    action: str  # "add", "change" or "remove"
    kind: str
    name: str
    diff: str  # unified diff of the (masked) objects

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        counts = {a: sum(1 for c in self.changes if c.action == a) for a in ("add", "change", "remove")}
        return ", ".join(f"{n} to {a}" for a, n in counts.items() if n) or "no changes"

    def as_dict(self) -> dict:
        return {
            "changed": not self.empty,
            "summary": self.summary(),
            "changes": [{"action": c.action, "kind": c.kind, "name": c.name, "diff": c.diff} for c in self.changes],
        }


def plan(deployed_manifest: str, new_manifest: str) -> Plan:
    """Object-by-object changes from the deployed manifest to the new one (order-insensitive)."""
    old, new = objects(deployed_manifest), objects(new_manifest)
    changes = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        kind, name = key
        action = "add" if before is None else "remove" if after is None else "change"
        before_text = _dump(_masked(before, None)) if before is not None else ""
        after_text = _dump(_masked(after, before)) if after is not None else ""
        label = f"{kind}/{name}"
        diff = "".join(difflib.unified_diff(
            before_text.splitlines(keepends=True), after_text.splitlines(keepends=True),
            fromfile=f"deployed {label}" if before is not None else "/dev/null",
            tofile=f"new {label}" if after is not None else "/dev/null",
        ))
        changes.append(Change(action, kind, name, diff))
    return Plan(changes)


def same_release(deployed_values: dict | None, new_values: dict, deployed_chart: str, new_chart: str) -> bool:
    """True when an upgrade would hand helm exactly what the deployed revision was made from."""
    return deployed_chart == new_chart and (deployed_values or {}) == (new_values or {})


def keep_annotations(chart_version: str) -> dict[str, str] | None:
    """A model cache claim's `pvcAnnotations` on charts that have the key: the chart then keeps the
    claim itself, and helm needs no post-renderer for it."""
    from vllmctl.core.chart import at_least

    return {KEEP_ANNOTATION: "keep"} if at_least(chart_version, CLAIM_ANNOTATIONS_SINCE) else None


def claims_kept(values: dict, chart_version: str) -> bool:
    """Whether the chart marks every claim these values make `keep` by itself, so an upgrade can do
    without the post-renderer (a Python process helm starts: ~0.1 s of every install)."""
    if keep_annotations(chart_version) is None or ((values.get("sharedPvcStorage") or {}).get("enabled")):
        return False
    specs = (values.get("servingEngineSpec") or {}).get("modelSpec") or []
    return all(((spec.get("pvcAnnotations") or {}).get(KEEP_ANNOTATION) == "keep")
               for spec in specs if isinstance(spec, dict) and spec.get("pvcStorage"))


def keep_claims(manifest_text: str) -> str:
    """Helm post-renderer: annotate every PersistentVolumeClaim `helm.sh/resource-policy: keep`.

    The model caches (often hundreds of GB) then survive `helm uninstall` and the removal of a model;
    `vllmctl uninstall --delete-data` deletes them on purpose. Other documents pass through as written.
    """
    import yaml

    out = []
    for doc in _split_documents(manifest_text):
        if "PersistentVolumeClaim" in doc:
            data = yaml.load(doc, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            if isinstance(data, dict) and data.get("kind") == "PersistentVolumeClaim":
                meta = data.setdefault("metadata", {})
                annotations = meta.get("annotations") or {}
                annotations[KEEP_ANNOTATION] = "keep"
                meta["annotations"] = annotations
                doc = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=1000)
        out.append(doc.strip("\n"))
    return "".join(f"---\n{doc}\n" for doc in out if doc.strip())


def _split_documents(text: str) -> list[str]:
    docs: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.rstrip() == "---" or line.startswith("--- "):
            docs.append("\n".join(current))
            current = []
        else:
            current.append(line)
    docs.append("\n".join(current))
    return docs
