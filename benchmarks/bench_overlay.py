"""What a values overlay of 200 keys adds to loading models.yaml (target: under 50 ms).

Both runs in the same process on the same models.yaml: the baseline without an overlay, then with
values.override.yaml beside it (read, parsed with positions, checked key by key against the chart
interface, which is loaded from its data file afresh each time, as in a new CLI process).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "cli"))

TARGET_MS = 50.0
KEYS = 200
VERSION = "0.1.12"


def overlay_values(count: int) -> dict:
    """`count` leaf keys: every plain key of the chart with a default that vllmctl does not own
    (set to that default), then labels up to the count."""
    from vllmctl.core import chart_interface, overlay

    iface = chart_interface.load(VERSION)
    values: dict = {}
    n = 0
    for path, key in sorted(iface.keys.items()):
        if n >= count - 1:
            break
        if "[]" in path or "*" in path or not key.has_default or isinstance(key.default, (dict, list)):
            continue
        parts = path.split(".")
        if any(".".join(parts[:i]) in overlay.OWNED for i in range(1, len(parts) + 1)):
            continue
        if parts[0] not in ("servingEngineSpec", "routerSpec", "cacheserverSpec", "loraController",
                            "sharedPvcStorage"):
            continue
        node = values
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = key.default
        n += 1
    labels = values.setdefault("servingEngineSpec", {}).setdefault("labels", {})
    for i in range(count - n):
        labels[f"bench-{i}"] = f"v{i}"
    return values


def leaf_count(node) -> int:
    return sum(leaf_count(v) for v in node.values()) if isinstance(node, dict) and node else 1


def timed(settings, runs: int = 15) -> float:
    from vllmctl.core import chart_interface
    from vllmctl.workflows.models import load

    times = []
    for _ in range(runs):
        chart_interface.load.cache_clear()
        start = time.perf_counter()
        load(settings)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    import yaml

    from vllmctl.core.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        models = Path(tmp) / "models.yaml"
        models.write_text("- name: chat\n  modelURL: Qwen/Qwen2.5-0.5B-Instruct\n  hfTokenRequired: false\n")
        settings = Settings(chart_version=VERSION, models_file=str(models))
        timed(settings, 3)  # imports done
        baseline = timed(settings)
        values = overlay_values(KEYS)
        (Path(tmp) / "values.override.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
        with_overlay = timed(settings)
    added_ms = (with_overlay - baseline) * 1000
    print(f"   load models.yaml: {baseline * 1000:6.1f} ms; with a {leaf_count(values)}-key overlay: "
          f"{with_overlay * 1000:6.1f} ms ({with_overlay / baseline:.2f}x)")
    ok = added_ms < TARGET_MS
    print(f"   the overlay adds {added_ms:.1f} ms; target < {TARGET_MS:.0f} ms: {'ok' if ok else 'OVER TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
