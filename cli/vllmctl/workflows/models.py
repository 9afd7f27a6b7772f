"""Reading and editing models.yaml: lock, read, edit as text, validate the result, write atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from vllmctl.adapters.files import locked, write_atomic
from vllmctl.core import chart, models_file, safe_yaml
from vllmctl.core import overlay as overlay_core
from vllmctl.core.input_file import read_source
from vllmctl.core.model_defaults import with_defaults
from vllmctl.core.problems import InvalidFile
from vllmctl.core.settings import PINNED_ROUTER_TAG, PINNED_VLLM_TAG, Settings
from vllmctl.errors import InvalidInput


@dataclass
class LoadedModels:
    document: models_file.ModelsDocument
    models: list
    chart_version: str
    warnings: list[str]
    overlay: overlay_core.Overlay = field(default_factory=overlay_core.Overlay)  # global values files
    # model name -> (ConfigMap key, text) of the chat template file its entry names
    chat_templates: dict[str, tuple[str, str]] = field(default_factory=dict)


def example_text() -> str:
    return resources.files("vllmctl").joinpath("data/models.example.yaml").read_text(encoding="utf-8")


def chart_version_of(settings: Settings) -> tuple[str, list[str]]:
    try:
        version, warning = chart.effective_version(settings.chart_version)
    except ValueError as e:
        raise InvalidInput(f"VLLM_CHART_VERSION: {e}.") from None
    return version, [warning] if warning else []


def validate_text(text: str, file: str, settings: Settings) -> LoadedModels:
    return _validated(models_file.parse_document(text, file), settings)


def _validated(doc: models_file.ModelsDocument, settings: Settings) -> LoadedModels:
    version, warnings = chart_version_of(settings)
    models = models_file.validate_document(doc, release=settings.release, chart_version=version)
    problems = [
        doc.problem((index, "modelSpec", *f.loc), f.message, key=f.at_key)
        for index, raw in enumerate(doc.entries)
        for f in overlay_core.check_model_spec(raw.get("modelSpec"), version)
    ]
    if problems:
        raise models_file.InvalidModels(problems)
    warnings += settings_rules(doc, models, settings, version)
    if settings.engine_tag_floats:
        warnings.append(
            f"VLLM_MODEL_TAG={settings.model_tag or '(empty)'} floats: pods break the day vLLM drops a flag, "
            f"and engine arguments cannot be checked against a known release; pin a release such as "
            f"{PINNED_VLLM_TAG}"
        )
    if settings.router_enabled and settings.router_tag_floats:
        warnings.append(
            f"VLLM_ROUTER_TAG={settings.router_tag or '(empty: the chart default, latest)'} floats: every "
            f"restart may run another router than the one tested; pin a release such as {PINNED_ROUTER_TAG}"
        )
    return LoadedModels(doc, models, version, warnings)


def overlay_paths(settings: Settings) -> list[Path]:
    """VLLM_VALUES_FILE's files (comma-separated, each must exist), else values.override.yaml
    beside the models file when it is there."""
    named = [p.strip() for p in settings.values_file.split(",") if p.strip()]
    if named:
        missing = [p for p in named if not Path(p).is_file()]
        if missing:
            raise InvalidInput(f"VLLM_VALUES_FILE: {', '.join(missing)} not found; fix the path or unset it.")
        return [Path(p) for p in named]
    default = settings.models_path.parent / overlay_core.DEFAULT_FILE
    return [default] if default.is_file() else []


def load_overlay(settings: Settings, version: str) -> overlay_core.Overlay:
    """The global values files, each checked against the chart's interface (InvalidModels if not)."""
    files, problems = [], []
    for path in overlay_paths(settings):
        try:  # a regular file of at most 256 KiB of UTF-8 without control characters (core.input_file)
            text = read_source(path).text
        except InvalidFile as e:
            raise models_file.InvalidModels(e.problems) from None
        file, found = overlay_core.parse_file(str(path), text, version)
        files.append(file)
        problems += [models_file.Problem(str(path), line, column, message) for line, column, message in found]
    if problems:
        raise models_file.InvalidModels(problems)
    return overlay_core.Overlay(files)


def settings_rules(doc, models: list, settings: Settings, version: str) -> list[str]:
    """Rules that need the settings as well as models.yaml: the router's exposure and each model's
    GPU vendor against the runtime class. Errors raise (at their line); warnings are returned."""
    from vllmctl.core import exposure, lora, multinode, placement, routing, scaling, shared_cache

    problems = exposure.problems(settings, version) + scaling.monitoring_problems(
        version, settings.monitoring, settings.service_monitor_labels) + shared_cache.problems(settings, version)
    problems += routing.settings_problems(settings, version, models)
    if problems:
        raise InvalidInput("; ".join(problems) + ".")
    located, warnings = [], exposure.warnings(settings)
    located += [doc.problem((index, *loc), message)
                for index, loc, message in routing.release_problems(list(enumerate(models)), settings, version)]
    for index, m in enumerate(models):
        errors, notes = placement.vendor_problems(m, settings.runtime_class, settings.model_image)
        notes = notes + multinode.warnings(m)
        if settings.shared_cache_size:
            errors = errors + shared_cache.entry_problems(m)
            notes = notes + shared_cache.warnings(m)
        located += [doc.problem((index, *loc), message) for loc, message in errors]
        warnings += notes + lora.warnings(m) + routing.warnings(m, settings)
    if located:
        raise models_file.InvalidModels(located)
    return warnings


def read_chat_templates(loaded: LoadedModels, base: Path) -> None:
    """Read each chatTemplate file (relative to the models file) into `loaded`, or say at its line why not."""
    from vllmctl.core.placement import chat_template_problem

    problems = []
    for index, m in enumerate(loaded.models):
        if not m.chatTemplate:
            continue
        path = (base / m.chatTemplate).expanduser()
        why: str | None
        try:
            data = path.read_bytes().replace(b"\r\n", b"\n")
        except OSError as e:
            why = f"cannot read chat template {str(path)!r}: {e.strerror or e}"
        else:
            why = chat_template_problem(path.name, data)
        if why:
            problems.append(loaded.document.problem((index, "chatTemplate"), why))
        else:
            loaded.chat_templates[m.name] = (path.name, data.decode("utf-8"))
    if problems:
        raise models_file.InvalidModels(problems)


def load(settings: Settings, *, allow_example: bool = False, overlay: bool = True) -> LoadedModels:
    """The validated models file (with the values overlay unless `overlay` is False); with
    allow_example, the packaged example when the default file is absent."""
    path = settings.models_path
    if not os.path.lexists(path) and allow_example and settings.models_file == "models.yaml":
        loaded = validate_text(example_text(), "models.example.yaml", settings)
        loaded.warnings.insert(0, "models.yaml not found: using the packaged models.example.yaml")
    else:
        loaded = _validated(models_file.load_document(path), settings)  # parsed once
        read_chat_templates(loaded, path.parent)
    if overlay:
        loaded.overlay = load_overlay(settings, loaded.chart_version)
    return loaded


def _quick_loader():
    """libyaml's C parser with YAML 1.2's booleans (only true/false), as the round-trip parser reads
    them: `enabled: yes` must not pass here and fail in validate."""
    import re

    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):
        pass

    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {
        first: [r for r in resolvers if r[0] != bool_tag] for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    return Loader


def load_for_reading(settings: Settings) -> LoadedModels:
    """load() for commands that only read (plan): the C parser is ~20x faster than the round-trip
    one; any problem is reported by load() itself, with its line and column."""
    import yaml

    path = settings.models_path
    try:  # the same bounds as load(): a regular file, its size, its bytes, its structure
        text = read_source(path).text
        if not safe_yaml.within_bounds_without_aliases(text):
            return load(settings)
        root = yaml.load(text, Loader=_quick_loader())
    except (OSError, InvalidFile, yaml.YAMLError):
        return load(settings)
    if not isinstance(root, list) or not all(isinstance(e, dict) for e in root):
        return load(settings)
    doc = models_file.ModelsDocument(file=str(path), text=text, root=root)
    doc.entries = root
    try:
        loaded = _validated(doc, settings)
    except models_file.InvalidModels:
        return load(settings)  # the same problems, located
    loaded.overlay = load_overlay(settings, loaded.chart_version)
    return loaded


def peek(settings: Settings) -> list[dict]:
    """The entries as written, with defaults filled in: no schema validation (that is `validate`'s
    job), so listing stays fast. Entries that are not mappings are skipped."""
    doc = models_file.load_document(settings.models_path)
    return [with_defaults(entry) for entry in doc.entries if isinstance(entry, dict)]


def _checked_as_validate_does(settings: Settings, loaded: LoadedModels) -> LoadedModels:
    """The engine flags of the file as it would be written, checked as `validate` checks them
    (rendered, then every model's `vllm serve` command line), before anything is written."""
    from vllmctl.workflows.render import render_models

    try:
        render_models(settings, loaded=loaded)
    except models_file.InvalidModels as e:
        raise InvalidInput("; ".join(p.message.rstrip(".") for p in e.problems) + ".") from None
    return loaded


def _target(path: Path) -> Path:
    """The file a models path names: edits go through a symbolic link, never replace it."""
    return Path(os.path.realpath(path))


def names(settings: Settings) -> list[str]:
    """The names already in the models file (none when it does not exist yet)."""
    if not settings.models_path.exists():
        return []
    return [str(entry.get("name")) for entry in peek(settings)]


def example_documentation() -> str:
    """The example's leading comment block (what every key means), without its example entries."""
    lines = []
    for line in example_text().splitlines(True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def _ensure_file(path: Path) -> bool:
    """Create the file with the example's documentation only: the example's models are not the user's."""
    if os.path.lexists(path):
        return False
    write_atomic(path, example_documentation())
    return True


def add(settings: Settings, entry: dict) -> tuple[LoadedModels, bool]:
    """Append `entry`; returns the new state and whether the file was created (with the example's documentation)."""
    path = settings.models_path
    with locked(_target(path)):
        created = _ensure_file(path)
        current = load(settings, overlay=False)
        if any(m.name == entry["name"] for m in current.models):
            raise InvalidInput(f"a model named {entry['name']!r} already exists in {path}; choose another name.")
        new_text = models_file.append_entry(current.document, entry)
        updated = _checked_as_validate_does(settings, validate_text(new_text, str(path), settings))
        write_atomic(_target(path), current.document.for_writing(new_text))
    return updated, created


def remove(settings: Settings, name: str) -> LoadedModels:
    path = settings.models_path
    with locked(_target(path)):
        current = load(settings, overlay=False)
        names = [m.name for m in current.models]
        if name not in names:
            raise InvalidInput(f"no model named {name!r} in {path}; configured: {', '.join(names) or 'none'}.")
        new_text = models_file.remove_entry(current.document, names.index(name))
        updated = validate_text(new_text, str(path), settings)
        if [m.name for m in updated.models] != [n for n in names if n != name]:
            raise InvalidInput(
                f"could not remove {name!r} from {path} without touching other entries; edit it by hand."
            )
        write_atomic(_target(path), current.document.for_writing(new_text))
    return updated
