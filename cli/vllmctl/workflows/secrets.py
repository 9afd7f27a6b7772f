"""The Hugging Face token and the API key: Vault + ExternalSecret, or a plain Secret.

With the External Secrets Operator (its v1 ExternalSecret API is served AND the ClusterSecretStore
VLLM_SECRET_STORE exists) the value lives in Vault and an ExternalSecret syncs it into the Secret.
Without it, the Secret is written directly and a copy is kept in Vault when Vault is configured
(VAULT_ADDR) and reachable. Either way objects are created or updated in place, never deleted
first. Values are never returned in messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from vllmctl.core.duration import seconds
from vllmctl.core.external_secret import external_secret_manifest
from vllmctl.core.hf_policy import SEED_GATED_PREFIXES, needs_hf_token
from vllmctl.core.secret_layout import API_KEY, HF_TOKEN, SecretLayout
from vllmctl.core.settings import Settings
from vllmctl.errors import (
    HubAuthError,
    HubNotFound,
    HubUnreachable,
    InvalidInput,
    MissingAnswer,
    Unreachable,
    VaultPathAbsent,
    VllmctlError,
)
from vllmctl.workflows.ports import Hub, SecretObjects, SecretVault
from vllmctl.workflows.secret_values import Prompt, ask_value, generate_api_key, vault_token


@dataclass
class Outcome:
    """What a secret command did, in lines for people (no values)."""

    done: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    eso: bool = False
    generated: bool = False


@dataclass
class SecretsOutcome:
    hf_token_models: frozenset[str]
    api_key: bool
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Resolved:
    value: str
    origin: str  # "given" | "generated" | "vault" | "secret"
    version: int | None = None  # KV version, when read from Vault


class SecretContext:
    """Settings plus lazily opened connections: the cluster's secret objects, Vault, and the ESO verdict.
    The real ones are built on first use; tests hand in others (workflows.ports)."""

    def __init__(self, settings: Settings, *, objects: SecretObjects | None = None,
                 vault: SecretVault | None = None, prompt: Prompt | None = None):
        self.settings = settings
        self.prompt = prompt
        self._objects = objects
        self._vault = vault

    @property
    def objects(self) -> SecretObjects:
        if self._objects is None:
            from vllmctl.adapters.kube_client import connect
            from vllmctl.adapters.kube_secrets import KubeSecrets

            self._objects = KubeSecrets(connect(self.settings.kube_context))
        return self._objects

    @cached_property
    def eso(self) -> bool:
        return self.objects.eso_detected(self.settings.secret_store)

    @cached_property
    def namespace_exists(self) -> bool:
        return self.objects.namespace_exists(self.settings.namespace)

    @property
    def vault_configured(self) -> bool:
        return self._vault is not None or bool(self.settings.vault_addr)

    def vault(self) -> SecretVault:
        if self._vault is None:
            if not self.vault_configured:
                raise InvalidInput(
                    "VAULT_ADDR is not set, but the External Secrets Operator reads these secrets from Vault.",
                    hint="Set VAULT_ADDR (and VAULT_TOKEN) to the Vault the ClusterSecretStore "
                    f"{self.settings.secret_store!r} uses.",
                )
            from vllmctl.adapters.vault import Vault

            self._vault = Vault(self.settings.vault_addr, vault_token(self.prompt), self.settings.vault_mount)
        return self._vault

    @property
    def timeout(self) -> float:
        return seconds(self.settings.secret_timeout)

    def secret_where(self, layout: SecretLayout) -> str:
        return f"Secret {self.settings.namespace}/{layout.secret_name}"


# -- the building blocks


def _sync_external_secret(ctx: SecretContext, layout: SecretLayout, version: int | None, out: Outcome) -> None:
    ns = ctx.settings.namespace
    manifest = external_secret_manifest(ctx.settings, layout, vault_version=version)
    what, _ = ctx.objects.apply_external_secret(manifest)
    ctx.objects.wait_external_secret(ns, layout.external_secret, ctx.timeout)
    out.done.append(f"ExternalSecret {ns}/{layout.external_secret} {what}; "
                    f"{ctx.secret_where(layout)} is synced from Vault")


def _vault_copy(ctx: SecretContext, layout: SecretLayout, value: str, out: Outcome) -> None:
    """Without ESO: a copy in Vault when it is configured; an unreachable Vault is only a warning."""
    if not ctx.vault_configured:
        return
    try:
        vault = ctx.vault()
        version, changed = vault.write_if_changed(layout.vault_path, layout.vault_field, value)
    except Unreachable as e:
        out.warnings.append(f"{e.message} No copy of the {layout.title} was kept in Vault.")
        return
    out.done.append(f"copy {'stored' if changed else 'unchanged'} at {vault.where(layout.vault_path)} "
                    f"(version {version})")


def _resolve(ctx: SecretContext, layout: SecretLayout, explicit: str | None, *, ask: bool,
             generate: bool, out: Outcome) -> _Resolved | None:
    """The value to use: given > stored (Vault with ESO; the Secret, then Vault, without) > asked >
    generated. None when there is none."""
    if explicit is not None:
        return _Resolved(explicit, "given")
    if ctx.eso:
        found = ctx.vault().read_optional(layout.vault_path, layout.vault_field)
        if found is not None:
            return _Resolved(found[0], "vault", found[1])
    else:
        current = ctx.objects.read_secret_value(ctx.settings.namespace, layout.secret_name,
                                                layout.secret_key) if ctx.namespace_exists else None
        if current:
            return _Resolved(current, "secret")
        if ctx.vault_configured:
            try:
                found = ctx.vault().read_optional(layout.vault_path, layout.vault_field)
            except Unreachable as e:
                out.warnings.append(f"{e.message} Its copy of the {layout.title} was not looked at.")
                found = None
            if found is not None:
                return _Resolved(found[0], "vault", found[1])
    asked = ask_value(layout, ctx.prompt if ask else None,
                      f"{layout.title} (input hidden{', empty to generate one' if generate else ''})")
    if asked is not None:
        return _Resolved(asked, "given")
    if generate:
        out.generated = True
        return _Resolved(generate_api_key(), "generated")
    return None


def _put(ctx: SecretContext, layout: SecretLayout, resolved: _Resolved, out: Outcome) -> None:
    """Make the cluster (and Vault) hold `resolved`, in place."""
    ns = ctx.settings.namespace
    if ctx.eso:
        version = resolved.version
        if resolved.origin in ("given", "generated"):
            vault = ctx.vault()
            version, changed = vault.write_if_changed(layout.vault_path, layout.vault_field, resolved.value)
            out.done.append(f"{'stored' if changed else 'unchanged'} at {vault.where(layout.vault_path)} "
                            f"(version {version})")
        if ctx.namespace_exists:
            _sync_external_secret(ctx, layout, version, out)
        else:
            out.done.append(f"namespace {ns!r} does not exist yet: install (or create-{layout.kind}-secret) "
                            "will create the ExternalSecret")
        return
    if resolved.origin == "secret":
        out.done.append(f"{ctx.secret_where(layout)} already exists: kept as it is")
        return
    if resolved.origin in ("given", "generated"):
        _vault_copy(ctx, layout, resolved.value, out)
    if ctx.namespace_exists:
        what = ctx.objects.apply_secret(ns, layout.secret_name, layout.secret_key, resolved.value)
        out.done.append(f"{ctx.secret_where(layout)} {what}")
    else:
        out.done.append(f"namespace {ns!r} does not exist yet: install (or create-{layout.kind}-secret) "
                        "will create the Secret")


def _missing(layout: SecretLayout, ctx: SecretContext, why: str = "") -> MissingAnswer:
    stored = (f"Vault ({ctx.settings.vault_mount}/{layout.vault_path})" if ctx.eso
              else f"the {ctx.secret_where(layout)}" + (" or Vault" if ctx.vault_configured else ""))
    return MissingAnswer(
        f"{why or 'no ' + layout.title + ' is stored'}: none in {stored}.",
        hint=f"Set {layout.env_var}, or run `vllmctl set-{layout.kind} --stdin` first.",
    )


# -- the commands' workflows


def set_secret(ctx: SecretContext, layout: SecretLayout, value: str, *, generated: bool = False) -> Outcome:
    """set-hf-token / set-api-key: store `value` (Vault + ExternalSecret, or Secret + Vault copy)."""
    out = Outcome(generated=generated)
    out.eso = ctx.eso  # the API server is asked first: unreachable means nothing was changed
    if not out.eso and not ctx.vault_configured and not ctx.namespace_exists:
        raise InvalidInput(
            f"namespace {ctx.settings.namespace!r} does not exist and Vault is not configured: "
            f"there is nowhere to keep the {layout.title}.",
            hint="Create the namespace first (vllmctl create-namespace), or set VAULT_ADDR.",
        )
    _put(ctx, layout, _Resolved(value, "generated" if generated else "given"), out)
    return out


def get_secret(ctx: SecretContext, layout: SecretLayout) -> str:
    """get-*: Vault when it is configured, else (or when Vault holds nothing) the Secret."""
    absent: VaultPathAbsent | None = None
    if ctx.vault_configured:
        try:
            return ctx.vault().read(layout.vault_path, layout.vault_field)[0]
        except VaultPathAbsent as e:
            absent = e
    try:
        value = ctx.objects.read_secret_value(ctx.settings.namespace, layout.secret_name, layout.secret_key)
    except VllmctlError:
        if absent is not None:  # Vault answered: its "nothing there" is the clearer message
            raise _absent_error(absent, layout) from None
        raise
    if value:
        return value
    if absent is not None:
        raise _absent_error(absent, layout, also=f"and there is no {ctx.secret_where(layout)}")
    raise InvalidInput(f"no {layout.title} found: there is no {ctx.secret_where(layout)} "
                       "(VAULT_ADDR is not set, so Vault was not asked).",
                       hint=f"Set it with `vllmctl set-{layout.kind}`.")


def _absent_error(e: VaultPathAbsent, layout: SecretLayout, also: str = "") -> VaultPathAbsent:
    message = e.message.rstrip(".") + (f" {also}" if also else "") + "."
    return VaultPathAbsent(message, hint=f"Set it with `vllmctl set-{layout.kind}`.")


def delete_secret(ctx: SecretContext, layout: SecretLayout) -> Outcome:
    """delete-*: from the cluster (ExternalSecret and Secret) and from Vault. Both are checked first."""
    out = Outcome()
    objects = ctx.objects  # unreachable: nothing deleted
    vault = None
    if ctx.vault_configured:
        vault = ctx.vault()
        vault.check_mount(layout.vault_path)
    out.done += _delete_cluster_objects(ctx, layout, objects)
    if vault is not None:
        existed = vault.delete(layout.vault_path)
        out.done.append(f"{'deleted' if existed else 'nothing stored at'} {vault.where(layout.vault_path)}")
    return out


def _delete_cluster_objects(ctx: SecretContext, layout: SecretLayout, objects: SecretObjects) -> list[str]:
    ns = ctx.settings.namespace
    done = []
    if objects.external_secret_api_served() and objects.delete_external_secret(ns, layout.external_secret):
        done.append(f"deleted ExternalSecret {ns}/{layout.external_secret}")
    if objects.delete_secret(ns, layout.secret_name):
        done.append(f"deleted {ctx.secret_where(layout)}")
    return done or [f"no {ctx.secret_where(layout)} or ExternalSecret {layout.external_secret} in the cluster"]


def create_cluster_secret(ctx: SecretContext, layout: SecretLayout, explicit: str | None, *,
                          ask: bool = True) -> Outcome:
    """create-*-secret: the ExternalSecret (ESO) or the Secret, from the stored value."""
    out = Outcome()
    out.eso = ctx.eso
    if not ctx.namespace_exists:
        raise InvalidInput(f"namespace {ctx.settings.namespace!r} does not exist.",
                           hint="Create it with `vllmctl create-namespace` (or run install).")
    if out.eso and explicit is None:
        ctx.vault().check_mount(layout.vault_path)
    resolved = _resolve(ctx, layout, explicit, ask=ask, generate=layout is API_KEY, out=out)
    if resolved is None:
        if out.eso:
            vault = ctx.vault()
            raise VaultPathAbsent(f"nothing is stored at {vault.where(layout.vault_path)}.",
                                  hint=f"Set it with `vllmctl set-{layout.kind} --stdin` (or {layout.env_var}).")
        raise _missing(layout, ctx)
    _put(ctx, layout, resolved, out)
    return out


def delete_cluster_secret(ctx: SecretContext, layout: SecretLayout) -> Outcome:
    """delete-*-secret: the ExternalSecret and the Secret; Vault is left alone."""
    return Outcome(done=_delete_cluster_objects(ctx, layout, ctx.objects))


# -- install: which models need the token, and make sure both secrets exist


def gated_models(models, hub: Hub, out: SecretsOutcome) -> tuple[frozenset[str], set[str]]:
    """(names of models that need the token, repos the Hub says are gated or private)."""
    needed, gated_repos = set(), set()
    hub_down = None
    for model in models:
        if not getattr(model, "enabled", True):
            continue
        gated = None
        if model.hfTokenRequired is None and hub_down is None:
            try:
                gated = hub.is_gated(model.modelURL)
            except HubUnreachable as e:
                hub_down = e
            except HubNotFound:
                gated = True  # private repos answer "not found" without a token
                out.notes.append(f"{model.modelURL} is not visible without a token on the Hugging Face Hub: "
                                 f"model {model.name} is given the token")
        if gated:
            gated_repos.add(model.modelURL)
        if needs_hf_token(model, gated)[0]:
            needed.add(model.name)
    if hub_down is not None:
        out.warnings.append(
            f"{hub_down.message} Guessed which models need the Hugging Face token from their organisation "
            f"({', '.join(SEED_GATED_PREFIXES)}); set hfTokenRequired in models.yaml to decide it yourself."
        )
    return frozenset(needed), gated_repos


def verify_hf_token(hub: Hub, token: str, repos: set[str], warnings: list[str]) -> str | None:
    """whoami, then access to each gated repo; HubAuthError when the token cannot serve them.
    None (and a warning) when the Hub cannot be reached."""
    try:
        user = hub.whoami(token).get("name") or "?"
        for repo in sorted(repos):
            if not hub.has_access(repo, token):
                raise HubAuthError(
                    f"the Hugging Face token (user {user}) has no access to the gated model {repo}.",
                    hint=f"Accept the license at {hub.endpoint}/{repo} while logged in as {user}, then run again.",
                )
    except HubUnreachable as e:
        warnings.append(f"{e.message} The Hugging Face token was not verified.")
        return None
    return user


def prepare_secrets(settings: Settings, objects: SecretObjects | None, models, *, api_key: bool, yes: bool,
                    hub: Hub | None = None, vault: SecretVault | None = None,
                    prompt: Prompt | None = None) -> SecretsOutcome:
    """Make sure the hf-token Secret/ExternalSecret exists when any model needs it, and the API key
    when `api_key`. Values: VLLM_HF_TOKEN / VLLM_API_KEY, else what is stored, else a hidden prompt
    (only with `prompt` and not `yes`), else a generated API key; a missing token is MissingAnswer."""
    from vllmctl.workflows.secret_values import from_environment

    ctx = SecretContext(settings, objects=objects, vault=vault, prompt=None if yes else prompt)
    result = SecretsOutcome(hf_token_models=frozenset(), api_key=api_key)
    own_hub = hub is None
    if hub is None:
        from vllmctl.adapters.hf import HubClient

        hub = HubClient()
    try:
        needed, gated_repos = gated_models(models, hub, result)
        result.hf_token_models = needed
        if needed:
            out = Outcome()
            resolved = _resolve(ctx, HF_TOKEN, from_environment(HF_TOKEN), ask=True, generate=False, out=out)
            if resolved is None:
                raise _missing(HF_TOKEN, ctx, f"models {', '.join(sorted(needed))} need a Hugging Face token")
            repos = {m.modelURL for m in models if m.name in needed and m.modelURL in gated_repos}
            user = verify_hf_token(hub, resolved.value, repos, out.warnings)
            _put(ctx, HF_TOKEN, resolved, out)
            if user:
                out.done.append(f"Hugging Face token of user {user} verified")
            result.notes += out.done
            result.warnings += out.warnings
    finally:
        if own_hub:
            hub.close()
    if api_key:
        out = Outcome()
        resolved = _resolve(ctx, API_KEY, from_environment(API_KEY), ask=False, generate=True, out=out)
        assert resolved is not None  # generate=True: a key is always found or made
        _put(ctx, API_KEY, resolved, out)
        if out.generated:
            out.done.append("a new API key was generated: print it with `vllmctl get-api-key`")
        result.notes += out.done
        result.warnings += out.warnings
    return result
