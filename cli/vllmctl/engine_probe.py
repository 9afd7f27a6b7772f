"""Run vLLM's own engine-config construction for some models, in a child process that has vllm.

    python engine_probe.py < request.json > result.json

Request: {"models": [{"name": "...", "argv": ["<model>", "--flag", ...], "config": {config.json}}]}.
Result:  {"vllm_version": "...", "import_seconds": s, "results": [{"name", "ok", "stage", "error",
          "seconds", "max_model_len", "dtype"}]}.
Each model's config.json is written alone into a temporary directory that replaces the model in
the argv, with --skip-tokenizer-init and HF_HUB_OFFLINE=1, so nothing is downloaded; vLLM then
catches what depends on the model (attention heads vs tensor parallel size, max_model_len above
the model's limit) and the value checks it makes at engine start. Standard library + vllm only:
this file is run by path, so it never imports vllmctl.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

# Flags whose values are files inside the engine pod: they cannot exist here.
POD_FILE_FLAGS = {"--chat-template"}


def _one_line(e: BaseException) -> str:
    text = ""
    errors = getattr(e, "errors", None)
    if callable(errors):  # pydantic ValidationError: name the field and the value
        try:
            first = errors()[0]
            loc = ".".join(str(x) for x in first.get("loc", ()))
            msg = str(first.get("msg", "")).removeprefix("Value error, ")
            value = first.get("input")
            got = f" (got {value!r})" if isinstance(value, str | int | float | bool) else ""
            text = f"{loc}: {msg}{got}" if loc else f"{msg}{got}"
        except Exception:  # noqa: BLE001 - fall back to the plain text
            text = ""
    text = " ".join((text or str(e)).split()) or type(e).__name__
    if len(text) > 300:  # keep the first sentences of vLLM's long explanations
        cut = text.find(". ", 150)
        text = text[: cut + 1] if 0 < cut < 400 else text[:300] + "..."
    return text


def _strip_pod_files(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0].replace("_", "-")
        if name in POD_FILE_FLAGS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


class _ParserError(Exception):
    pass


def _raise(message: str):
    raise _ParserError(message)


def probe(models: list[dict]) -> dict:
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    t0 = time.perf_counter()
    import vllm
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.entrypoints.launchers.cli_args import validate_parsed_serve_args
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    top = FlexibleArgumentParser(description="vLLM CLI")
    serve = ServeSubcommand().subparser_init(top.add_subparsers(required=False, dest="subparser"))
    top.error = serve.error = _raise
    import_seconds = time.perf_counter() - t0

    results = []
    for m in models:
        t = time.perf_counter()
        res: dict = {"name": m["name"], "ok": False, "stage": "parser", "error": None}
        with tempfile.TemporaryDirectory(prefix="vllmctl-probe-") as tmp:
            Path(tmp, "config.json").write_text(json.dumps(m["config"]))
            argv = [tmp, *_strip_pod_files(list(m["argv"][1:])), "--skip-tokenizer-init"]
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    ns = top.parse_args(["serve", *argv])
                validate_parsed_serve_args(ns)
                if getattr(ns, "model_tag", None):  # as `vllm serve` does before building the engine
                    ns.model = ns.model_tag
                res["stage"] = "engine"
                config = AsyncEngineArgs.from_cli_args(ns).create_engine_config()
                res.update(ok=True, stage=None, max_model_len=config.model_config.max_model_len,
                           dtype=str(config.model_config.dtype).removeprefix("torch."))
            except SystemExit as e:
                res["error"] = f"the parser exited ({e.code})"
            except Exception as e:  # noqa: BLE001 - every failure is a verdict to report
                if os.environ.get("VLLMCTL_PROBE_DEBUG"):
                    import traceback

                    traceback.print_exc()
                res["error"] = _one_line(e).replace(tmp, m["argv"][0] if m["argv"] else "model")
        res["seconds"] = round(time.perf_counter() - t, 4)
        results.append(res)
    return {"vllm_version": vllm.__version__, "import_seconds": round(import_seconds, 3), "results": results}


def main() -> int:
    # vLLM logs to stdout: keep the real stdout for the JSON result only.
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        request = json.load(sys.stdin)
        result = probe(request["models"])
    except ImportError as e:
        result = {"error": f"vllm cannot be imported here ({_one_line(e)}); install the engine extra."}
    except Exception as e:  # noqa: BLE001
        result = {"error": _one_line(e)}
    json.dump(result, result_out)
    result_out.flush()
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
