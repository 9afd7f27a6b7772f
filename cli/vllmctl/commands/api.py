"""Talk to the deployed stack: test-completions, list-api-models, smoke, bench."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.interactive import choose
from vllmctl.commands.options import (
    ContextOpt,
    ModelsFileOpt,
    NamespaceOpt,
    Output,
    OutputOpt,
    ReleaseOpt,
    UrlOpt,
    YesOpt,
    settings_from,
)
from vllmctl.errors import MissingAnswer, OperationFailed

COMPLETION_PROMPT = "San Francisco is a"
CHAT_PROMPT = "Say hello in one short sentence."

RequestTimeoutOpt = Annotated[
    float, typer.Option("--timeout", min=0.1, help="seconds to wait for an answer (a cold engine can be slow)")
]
ChatOpt = Annotated[bool, typer.Option("--chat", help="use /v1/chat/completions instead of /v1/completions")]


def _settings(url, namespace, release, context, models_file):
    return settings_from(url=url, namespace=namespace, release=release, kube_context=context, models_file=models_file)


def _pick_model(settings, model: str | None, yes: bool) -> str:
    if model:
        return model
    from vllmctl.workflows.api import configured_adapters, configured_models

    names = configured_models(settings)
    if not names:
        where = f"no enabled models in {settings.models_file}" if names is not None else f"no {settings.models_file}"
        raise MissingAnswer(f"Model is required: pass MODEL ({where} to choose from).")
    return choose("Model", names + list(configured_adapters(settings)), flag="MODEL", yes=yes)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def test_completions(
    model: Annotated[str | None, typer.Argument(
        help="model id: its models.yaml name, or a LoRA adapter's name [default: ask]")] = None,
    prompt: Annotated[str | None, typer.Argument(help="prompt text, sent as data (any characters)")] = None,
    chat: ChatOpt = False,
    stream: Annotated[bool, typer.Option("--stream", help="print tokens as they arrive")] = False,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="most tokens to generate")] = 64,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0.0, help="sampling temperature")] = None,
    timeout: RequestTimeoutOpt = 60.0,
    url: UrlOpt = None,
    namespace: NamespaceOpt = None,
    release: ReleaseOpt = None,
    context: ContextOpt = None,
    models_file: ModelsFileOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Send one completion to a model through the router and show the answer, latency and tokens.

    The API key comes from VLLM_API_KEY, else the Secret vllm-api-key, else Vault (vllm/api-key).
    """
    from vllmctl.workflows.api import send_completion
    from vllmctl.workflows.endpoint import open_endpoint

    settings = _settings(url, namespace, release, context, models_file)
    model = _pick_model(settings, model, yes)
    if prompt is None:
        prompt = CHAT_PROMPT if chat else COMPLETION_PROMPT
    printing = stream and output is Output.text
    on_text = (lambda piece: typer.echo(piece, nl=False)) if printing else None
    with open_endpoint(settings) as base:
        answer = send_completion(
            settings, base, model, prompt, chat=chat, stream=stream, max_tokens=max_tokens,
            temperature=temperature, timeout=timeout, on_text=on_text,
        )
    usage = answer.usage or {}
    if output is Output.json:
        console.emit_json({
            "model": model, "text": answer.text, "latency_ms": answer.latency * 1000,
            "ttft_ms": None if answer.ttft is None else answer.ttft * 1000,
            "usage": answer.usage, "finish_reason": answer.finish_reason,
        })
        return
    if printing:
        typer.echo("")
    else:
        console.data(answer.text)
    tokens = (
        f"tokens: {usage.get('prompt_tokens', '?')} in, {usage.get('completion_tokens', '?')} out"
        if usage else "tokens: not reported"
    )
    first = f", first token {_ms(answer.ttft)}" if answer.ttft is not None else ""
    console.info(f"{model}: {_ms(answer.latency)}{first}, {tokens}, finish: {answer.finish_reason or '?'}")


def list_api_models(
    timeout: RequestTimeoutOpt = 30.0,
    url: UrlOpt = None,
    namespace: NamespaceOpt = None,
    release: ReleaseOpt = None,
    context: ContextOpt = None,
    models_file: ModelsFileOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """List the model ids the router serves, marked against models.yaml (ok, missing, unexpected)."""
    from vllmctl.workflows.api import api_models
    from vllmctl.workflows.endpoint import open_endpoint

    settings = _settings(url, namespace, release, context, models_file)
    with open_endpoint(settings) as base:
        rows = api_models(settings, base, timeout=timeout)
    if output is Output.json:
        console.emit_json(rows)
        return
    if not rows:
        console.info("The endpoint serves no models, and none are configured.")
        return
    if any("parent" in r for r in rows):  # LoRA adapters: say which base model each runs on
        console.table(["MODEL", "ADAPTER OF", "STATUS"], [[r["id"], r.get("parent", "-"), r["status"]] for r in rows])
    else:
        console.table(["MODEL", "STATUS"], [[r["id"], r["status"]] for r in rows])
    missing = [r["id"] for r in rows if r["status"] == "missing" and "parent" not in r]
    if missing:
        console.warn(f"configured but not served: {', '.join(missing)} (check `vllmctl status`).")
    adapters = [r["id"] for r in rows if r["status"] == "missing" and "parent" in r]
    if adapters:
        console.warn(f"LoRA adapters configured but not loaded: {', '.join(adapters)} (the LoRA controller loads "
                     "them once their base model is ready: `kubectl get loraadapters` shows each one's status).")


def smoke(
    models: Annotated[list[str] | None, typer.Argument(help="models to check [default: every enabled model]")] = None,
    timeout: RequestTimeoutOpt = 120.0,
    url: UrlOpt = None,
    namespace: NamespaceOpt = None,
    release: ReleaseOpt = None,
    context: ContextOpt = None,
    models_file: ModelsFileOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Check that every configured model is served and answers a completion and a chat request."""
    from vllmctl.commands.smoke_report import print_smoke
    from vllmctl.workflows.api import raise_if_smoke_failed, smoke_models

    settings = _settings(url, namespace, release, context, models_file)
    results = smoke_models(settings, timeout=timeout, models=models)
    if output is Output.json:
        console.emit_json([r.as_dict() for r in results])
    else:
        print_smoke(results)
    raise_if_smoke_failed(results)


def _progress_bar(done: int, total: int, failed: int, width: int = 30) -> str:
    filled = width * done // max(total, 1)
    bad = f", {failed} failed" if failed else ""
    return f"bench {'█' * filled}{'░' * (width - filled)} {done}/{total} requests{bad}"


def _print_report(report: dict) -> None:
    plan = report["plan"]
    load = f"rate {plan['rate']:g}/s" if plan["rate"] else ""
    if plan["concurrency"]:
        load = f"{load}, " if load else ""
        load += f"concurrency {plan['concurrency']}"
    console.data(
        f"{plan['model']} at {plan['endpoint']}: {report['requests']} requests, {load}\n"
        f"completed {report['completed']}, failed {report['failed']} in {report['duration_s']:.2f} s\n"
        f"throughput: {report['request_throughput']:.2f} requests/s, "
        f"{report['output_throughput']:.1f} output tokens/s\n"
        f"tokens: {report['total_input_tokens']} in, {report['total_output_tokens']} out"
    )

    def cells(name: str, key: str) -> list[str]:
        d = report[key]
        return [name] + ["-" if d[k] is None else f"{d[k]:.1f}" for k in ("mean", "p50", "p90", "p99")]

    console.table(["LATENCY (ms)", "MEAN", "P50", "P90", "P99"], [
        cells("time to first token", "ttft_ms"), cells("inter-token", "itl_ms"),
        cells("per output token", "tpot_ms"), cells("end to end", "e2e_ms"),
    ])


def bench(
    model: Annotated[str | None, typer.Argument(help="model id: its models.yaml name [default: ask]")] = None,
    requests: Annotated[int, typer.Option("--requests", "-N", min=1, help="how many requests")] = 100,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", min=1, help="requests in flight [default: 16; with --rate: unbounded]"),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="requests per second, Poisson arrivals [default: as fast as concurrency allows]"),
    ] = None,
    input_len: Annotated[int, typer.Option("--input-len", min=1, help="prompt length in tokens (about)")] = 128,
    output_len: Annotated[int, typer.Option("--output-len", min=1, help="output tokens per request")] = 128,
    range_ratio: Annotated[
        float, typer.Option("--random-range-ratio", min=0.0, max=0.99,
                            help="lengths vary uniformly within ±ratio of --input-len/--output-len")
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="seed of prompts, lengths and arrivals")] = 0,
    chat: ChatOpt = False,
    timeout: RequestTimeoutOpt = 300.0,
    url: UrlOpt = None,
    namespace: NamespaceOpt = None,
    release: ReleaseOpt = None,
    context: ContextOpt = None,
    models_file: ModelsFileOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Benchmark a model through the endpoint: throughput, time to first token, inter-token and
    end-to-end latency (p50/p90/p99), from streamed requests."""
    from vllmctl.workflows.bench import BenchPlan, run_bench
    from vllmctl.workflows.endpoint import open_endpoint

    settings = _settings(url, namespace, release, context, models_file)
    model = _pick_model(settings, model, yes)
    if concurrency is None and rate is None:
        concurrency = 16
    plan = BenchPlan(model=model, requests=requests, concurrency=concurrency, rate=rate, input_len=input_len,
                     output_len=output_len, range_ratio=range_ratio, seed=seed, chat=chat, timeout=timeout)
    with open_endpoint(settings) as base:
        if sys.stderr.isatty():
            with console.live(lambda: _progress_bar(0, requests, 0)) as live:
                report = run_bench(settings, base, plan,
                                   progress=lambda d, t, f: live.update(_progress_bar(d, t, f)))
        else:
            report = run_bench(settings, base, plan)
    if output is Output.json:
        console.emit_json(report)
    else:
        _print_report(report)
    if report["failed"]:
        first = next(iter(report["errors"]))
        raise OperationFailed(f"{report['failed']} of {report['requests']} requests failed; most common: {first}.")


def register(app: typer.Typer) -> None:
    app.command("test-completions")(test_completions)
    app.command("list-api-models")(list_api_models)
    app.command("smoke")(smoke)
    app.command("bench")(bench)
