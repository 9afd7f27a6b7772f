"""Hugging Face token and API key: Vault, ExternalSecrets or plain Secrets.

Values are read from a hidden prompt, stdin (--stdin) or VLLM_HF_TOKEN / VLLM_API_KEY; never from
an argument. `get-*` prints the bare value on stdout and nothing else.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.interactive import confirm, hidden_prompt
from vllmctl.commands.options import ContextOpt, NamespaceOpt, Output, OutputOpt, YesOpt, settings_from
from vllmctl.errors import InvalidInput, MissingAnswer

# Extra arguments are caught here instead of by click, whose usage error would echo them: the one
# a user is most likely to type is the secret itself.
_NO_ECHO = {"allow_extra_args": True, "ignore_unknown_options": True}

StdinOpt = Annotated[bool, typer.Option("--stdin", help="read the value from stdin (one line)")]
SecretTimeoutOpt = Annotated[
    str | None,
    typer.Option("--secret-timeout", envvar="VLLM_SECRET_TIMEOUT",
                 help="how long to wait for the ExternalSecret to become Ready [default: 60s]"),
]


def _context(namespace, context, yes, secret_timeout=None):
    from vllmctl.workflows.secrets import SecretContext

    settings = settings_from(namespace=namespace, kube_context=context, secret_timeout=secret_timeout)
    return SecretContext(settings, prompt=hidden_prompt(yes))


def _refuse_arguments(ctx: typer.Context, env_var: str) -> None:
    if ctx.args:
        raise InvalidInput(
            f"`vllmctl {ctx.info_name}` takes no value on the command line (it would be visible to every "
            f"process on the machine; the arguments are not repeated here).",
            hint=f"Pipe the value with --stdin or set {env_var}; see --help for the options.",
        )


def _report(outcome, layout, output: Output, **extra) -> None:
    if output is Output.json:
        console.emit_json({"secret": layout.kind, "externalSecretsOperator": outcome.eso,
                           "generated": outcome.generated, "done": outcome.done, "warnings": outcome.warnings,
                           **extra})
        return
    for line in outcome.warnings:
        console.warn(line)
    for line in outcome.done:
        console.success(line)


def _layout(kind: str):
    from vllmctl.core.secret_layout import API_KEY, HF_TOKEN

    return HF_TOKEN if kind == "hf-token" else API_KEY


def _verify_token(value: str, verify: bool) -> None:
    """An invalid token is refused before it is stored; when the Hub cannot be asked (unreachable,
    or --no-verify) a value that does not look like a token is a warning, and it is stored anyway."""
    from vllmctl.core.hf_policy import token_shape_problem

    user = None
    if verify:
        from vllmctl.adapters.hf import HubClient
        from vllmctl.workflows.secrets import verify_hf_token

        warnings: list[str] = []
        with HubClient() as hub:
            user = verify_hf_token(hub, value, set(), warnings)
        for line in warnings:
            console.warn(line)
    if user:
        console.info(f"Hugging Face token of user {user}.")
        return
    problem = token_shape_problem(value)
    if problem:
        console.warn(f"{problem}: check it is the token itself (https://huggingface.co/settings/tokens).")


def set_hf_token(
    ctx: typer.Context,
    stdin: StdinOpt = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="check the token with the Hub first")] = True,
    namespace: NamespaceOpt = None,
    context: ContextOpt = None,
    secret_timeout: SecretTimeoutOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Store the Hugging Face token: Vault + ExternalSecret with ESO, else the Secret (+ a Vault copy).

    The token comes from --stdin, VLLM_HF_TOKEN, or a hidden prompt.
    """
    from vllmctl.core.secret_layout import HF_TOKEN
    from vllmctl.workflows import secrets as wf
    from vllmctl.workflows.secret_values import ask_value, explicit_value

    _refuse_arguments(ctx, HF_TOKEN.env_var)
    sctx = _context(namespace, context, yes, secret_timeout)
    value = explicit_value(HF_TOKEN, stdin=stdin) or ask_value(
        HF_TOKEN, sctx.prompt, "Hugging Face token (input hidden)")
    if value is None:
        raise MissingAnswer(f"no {HF_TOKEN.title} given: pipe it with --stdin or set {HF_TOKEN.env_var}.")
    _verify_token(value, verify)
    _report(wf.set_secret(sctx, HF_TOKEN, value), HF_TOKEN, output)


def set_api_key(
    ctx: typer.Context,
    stdin: StdinOpt = False,
    show: Annotated[bool, typer.Option("--show", help="print the key on stdout (once)")] = False,
    namespace: NamespaceOpt = None,
    context: ContextOpt = None,
    secret_timeout: SecretTimeoutOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Store the API key; without one (--stdin, VLLM_API_KEY or the prompt) a 48-character key is generated.

    The key is never printed unless --show is given.
    """
    from vllmctl.core.secret_layout import API_KEY
    from vllmctl.workflows import secrets as wf
    from vllmctl.workflows.secret_values import ask_value, explicit_value, generate_api_key

    _refuse_arguments(ctx, API_KEY.env_var)
    sctx = _context(namespace, context, yes, secret_timeout)
    value = explicit_value(API_KEY, stdin=stdin) or ask_value(
        API_KEY, sctx.prompt, "API key (input hidden, empty to generate one)")
    generated = value is None
    key = value or generate_api_key()
    outcome = wf.set_secret(sctx, API_KEY, key, generated=generated)
    _report(outcome, API_KEY, output, **({"apiKey": key} if show else {}))
    if show and output is Output.text:
        console.data(key)
    elif generated and output is Output.text:
        console.info("A new API key was generated: print it with `vllmctl get-api-key` (or pass --show).")


def _get(kind: str):
    def get(namespace: NamespaceOpt = None, context: ContextOpt = None, yes: YesOpt = False) -> None:
        from vllmctl.workflows.secrets import get_secret

        console.data(get_secret(_context(namespace, context, yes), _layout(kind)))

    layout = _layout(kind)
    get.__doc__ = (f"Print the {layout.title} (bare, on stdout): from Vault when VAULT_ADDR is set, "
                   f"else from the Secret {layout.secret_name}.")
    return get


def _delete(kind: str, *, vault_too: bool):
    """delete-* (Vault and the cluster) or delete-*-secret (the cluster only)."""
    layout = _layout(kind)

    def delete(namespace: NamespaceOpt = None, context: ContextOpt = None, yes: YesOpt = False,
               output: OutputOpt = Output.text) -> None:
        from vllmctl.workflows.secrets import delete_cluster_secret, delete_secret

        ctx = _context(namespace, context, yes)
        where = "Vault and namespace" if vault_too else "namespace"
        confirm(f"Delete the {layout.title} from {where} {ctx.settings.namespace}?", yes=yes)
        _report((delete_secret if vault_too else delete_cluster_secret)(ctx, layout), layout, output)

    delete.__doc__ = (
        f"Delete the {layout.title} from Vault ({layout.vault_path}) and the cluster "
        f"(Secret {layout.secret_name}, ExternalSecret {layout.external_secret})." if vault_too else
        f"Delete the Secret {layout.secret_name} and the ExternalSecret {layout.external_secret} "
        "(Vault is left alone)."
    )
    return delete


def _create_secret(kind: str):
    def create(ctx: typer.Context, stdin: StdinOpt = False, namespace: NamespaceOpt = None,
               context: ContextOpt = None, secret_timeout: SecretTimeoutOpt = None, yes: YesOpt = False,
               output: OutputOpt = Output.text) -> None:
        from vllmctl.workflows.secret_values import explicit_value
        from vllmctl.workflows.secrets import create_cluster_secret

        layout = _layout(kind)
        _refuse_arguments(ctx, layout.env_var)
        sctx = _context(namespace, context, yes, secret_timeout)
        outcome = create_cluster_secret(sctx, layout, explicit_value(layout, stdin=stdin))
        _report(outcome, layout, output)
        if outcome.generated and output is Output.text:
            console.info("A new API key was generated: print it with `vllmctl get-api-key`.")

    layout = _layout(kind)
    create.__doc__ = (
        f"Create or update the {layout.title} Secret {layout.secret_name} in place: an ExternalSecret "
        f"from Vault with ESO, else a Secret from --stdin, {layout.env_var}, the Vault copy or a prompt."
    )
    return create


def register(app: typer.Typer) -> None:
    app.command("set-hf-token", context_settings=_NO_ECHO)(set_hf_token)
    app.command("get-hf-token")(_get("hf-token"))
    app.command("delete-hf-token")(_delete("hf-token", vault_too=True))
    app.command("create-hf-token-secret", context_settings=_NO_ECHO)(_create_secret("hf-token"))
    app.command("delete-hf-token-secret")(_delete("hf-token", vault_too=False))
    app.command("set-api-key", context_settings=_NO_ECHO)(set_api_key)
    app.command("get-api-key")(_get("api-key"))
    app.command("delete-api-key")(_delete("api-key", vault_too=True))
    app.command("create-api-key-secret", context_settings=_NO_ECHO)(_create_secret("api-key"))
    app.command("delete-api-key-secret")(_delete("api-key", vault_too=False))
