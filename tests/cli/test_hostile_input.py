"""The hostile-input corpus: files and settings nobody meant to write, each run through the real CLI.

Every case asserts the exit code, the message, its `file:line:column:` location, one line per
problem (no traceback, control characters escaped, long values cut), nothing on stdout, every
file in the directory byte-identical (and nothing added), and the child's CPU time and peak
memory (tests/cli/hostile_run.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cli.hostile_run import check_refusal, run_measured, snapshot

OK_HEAD = b"- name: m1\n  modelURL: Qwen/Qwen2.5-0.5B-Instruct\n"


def model(*lines: str) -> bytes:
    return OK_HEAD + b"".join(f"  {line}\n".encode() for line in lines)


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, bytes | Callable[[Path], None]]  # name -> content, or a function making it
    message: str  # regex searched in stderr
    where: str | None = None  # location of the first problem, e.g. "models.yaml:2:9"
    args: tuple[str, ...] = ("validate",)
    env: dict[str, str] = field(default_factory=dict)
    code: int = 2
    lines: int | None = 1  # problem lines expected (None: not checked)


def fifo(path: Path) -> None:
    os.mkfifo(path)


def directory(path: Path) -> None:
    path.mkdir()


def link_to(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def billion_laughs(levels: int = 9) -> bytes:
    lines = ['- name: m1', '  modelURL: a/b', '  env:', '    L0: &l0 "lol"']
    for i in range(1, levels):
        lines.append(f"    L{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
    return ("\n".join(lines) + "\n").encode()


def merge_bomb(levels: int = 7) -> bytes:
    """Each level merges the one before and lists it ten times: 11^levels values."""
    lines = ["- name: m1", "  modelURL: a/b", "  podAnnotations: &m0 {a: b}"]
    for i in range(1, levels):
        refs = ", ".join([f"*m{i - 1}"] * 10)
        lines.append(f"  x{i}: &m{i} {{<<: *m{i - 1}, k{i}: [{refs}]}}")
    return ("\n".join(lines) + "\n").encode()


M = "models.yaml"
BYTES = [
    Case("nul-in-value", {M: model("storageClass: fa\x00st")}, r"NUL \(U\+0000\) is not allowed", "models.yaml:3:19"),
    Case("nul-first-byte", {M: b"\x00" + OK_HEAD}, "NUL", "models.yaml:1:1"),
    Case("escape-sequence", {M: model("tag: \x1b[31mred")}, r"ESC \(U\+001B\)", "models.yaml:3:8"),
    Case("bell", {M: model("tag: a\x07b")}, r"control character \(U\+0007\)", "models.yaml:3:9"),
    Case("backspace", {M: model("tag: ab\x08")}, r"backspace \(U\+0008\)", "models.yaml:3:10"),
    Case("form-feed", {M: b"\x0c" + OK_HEAD}, r"form feed", "models.yaml:1:1"),
    Case("vertical-tab", {M: model("tag: a\x0bb")}, r"U\+000B", "models.yaml:3:9"),
    Case("delete", {M: model("tag: a\x7f")}, r"DEL \(U\+007F\)", "models.yaml:3:9"),
    Case("c1-control", {M: model("tag: a\u0090").replace(b"\xc2\x90", "\u0090".encode())}, r"U\+0090",
         "models.yaml:3:9"),
    Case("next-line", {M: model("tag: a\u0085b")}, r"U\+0085", "models.yaml:3:9"),
    Case("two-controls-two-lines", {M: b"- name: m\x01\n  modelURL: a/\x02b\n"}, "control character",
         "models.yaml:1:10", lines=2),
    Case("bare-cr", {M: b"- name: m1\r  modelURL: a/b\n"}, "carriage return without a line feed",
         "models.yaml:1:11"),
    Case("latin1", {M: model("tag: caf\xe9").replace("é".encode(), b"\xe9")}, r"invalid UTF-8 \(byte 0xe9\)",
         "models.yaml:3:11"),
    Case("cp1252-quotes", {M: b"- name: m1\n  modelURL: \x93a/b\x94\n"}, "byte 0x93", "models.yaml:2:13"),
    Case("invalid-utf8-first-line", {M: b"\xff- name: m1\n"}, "byte 0xff", "models.yaml:1:1"),
    Case("truncated-multibyte-at-end", {M: OK_HEAD + b"  tag: \xe2\x82"}, "invalid UTF-8", "models.yaml:3:8"),
    Case("overlong-encoding", {M: OK_HEAD + b"  tag: \xc0\xaf\n"}, "byte 0xc0", "models.yaml:3:8"),
    Case("encoded-surrogate", {M: OK_HEAD + b"  tag: \xed\xa0\x80\n"}, "byte 0xed", "models.yaml:3:8"),
    Case("invalid-after-multibyte", {M: "- name: m1\n  tag: ünï\xff\n".encode().replace(b"\xc3\xbf", b"\xff")},
         "byte 0xff", "models.yaml:2:11"),
    Case("utf16-le-bom", {M: OK_HEAD.decode().encode("utf-16")}, "UTF-16 or UTF-32", "models.yaml:1:1"),
    Case("utf16-be-bom", {M: b"\xfe\xff" + OK_HEAD.decode().encode("utf-16-be")}, "UTF-16", "models.yaml:1:1"),
    Case("utf16-no-bom", {M: OK_HEAD.decode().encode("utf-16-le")}, "NUL bytes between the characters",
         "models.yaml:1:1"),
    Case("utf32-bom", {M: OK_HEAD.decode().encode("utf-32")}, "UTF-32", "models.yaml:1:1"),
    Case("bidi-override-echoed-escaped", {M: model("storageClass: \u202eevil")}, r"\\u202e", "models.yaml:3:17"),
    Case("newline-in-key-escaped", {M: OK_HEAD + b'  "bad\\nkey": 1\n'}, r"unknown key 'bad\\nkey'",
         "models.yaml:3:3"),
    Case("long-value-cut", {M: model("storageClass: " + "x" * 100_000)}, r"\(100000 characters\)",
         "models.yaml:3:17"),
    Case("long-key-cut", {M: model("k" * 1000 + ": 1")}, r"unknown key 'k+\.\.\.", "models.yaml:3:3"),
]

BOMBS = [
    # the parser meets the end of the file on the line after the last: the end of the last line is cited
    Case("unclosed-flow-at-end", {M: b"- name: a\n  modelURL: [x\n"}, "expected ',' or ']'", "models.yaml:2:15"),
    Case("deep-flow-nesting", {M: b"[" * 20_000}, "nested more than 32 levels deep", "models.yaml:1:33"),
    Case("deep-flow-mapping", {M: b"- name: m1\n  modelURL: a/b\n  env: " + b"{a: " * 5_000}, "nested more than 32",
         "models.yaml:3:"),
    Case("deep-block-nesting", {M: OK_HEAD + b"".join(b"  " * (i + 1) + b"k%d:\n" % i for i in range(40))},
         "nested more than 32", None),
    Case("billion-laughs", {M: billion_laughs()}, "expands to more than 20000 values through aliases",
         "models.yaml:1:3"),
    Case("merge-key-bomb", {M: merge_bomb()}, "expands to more than 20000 values", "models.yaml:1:3"),
    Case("alias-bomb-in-list", {M: b"- &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
        b"- &%c [%s]\n" % (98 + i, b", ".join([b"*" + bytes([97 + i])] * 10)) for i in range(6))},
         "expands to more than 20000 values", None),
    Case("over-size-limit", {M: OK_HEAD + b"# " + b"x" * 300_000 + b"\n"}, "larger than 256 KiB",
         "models.yaml:1:1"),
    Case("many-tiny-entries", {M: b"- 0\n" * 20_000}, "more than 8000 keys and values", "models.yaml:8000:3"),
    Case("many-flow-values", {M: b"- name: m1\n  modelURL: a/b\n  env: [" + b"1," * 30_000 + b"]\n"},
         "more than 8000 keys and values", "models.yaml:3:"),
    Case("many-bad-entries-capped", {M: b"- 1\n" * 200}, r"\.\.\. and 150 more problems",
         "models.yaml:1:3", lines=51),
    Case("undefined-alias", {M: model("tolerations: *nothing")}, "undefined alias", "models.yaml:3:16"),
    Case("duplicate-key", {M: model("tag: a", "tag: b")}, "duplicate key", "models.yaml:4:3"),
    Case("tab-indentation", {M: b"- name: m1\n\tmodelURL: a/b\n"}, "invalid YAML", "models.yaml:2:"),
    Case("not-a-list", {M: b"name: m1\nmodelURL: a/b\n"}, "must be a YAML list of models", "models.yaml:1:1"),
]

KINDS = [
    Case("models-is-directory", {M: directory}, "is a directory, not a regular file", "models.yaml:1:1"),
    Case("models-is-fifo", {M: fifo}, r"is a named pipe \(FIFO\)", "models.yaml:1:1"),
    Case("models-links-to-device", {M: link_to("/dev/zero")}, "character device .through a symbolic link",
         "models.yaml:1:1"),
    Case("models-links-to-directory", {M: link_to("/")}, "is a directory", "models.yaml:1:1"),
    Case("models-links-to-fifo", {"p": fifo, M: link_to("p")}, "named pipe", "models.yaml:1:1"),
    Case("models-dangling-link", {M: link_to("gone.yaml")}, "symbolic link to 'gone.yaml', which does not exist",
         "models.yaml:1:1"),
    Case("render-dangling-link-no-example", {M: link_to("gone.yaml")}, "which does not exist", "models.yaml:1:1",
         args=("render", "-d", "out")),
    Case("render-from-fifo", {M: fifo}, "named pipe", "models.yaml:1:1", args=("render", "-d", "out")),
    Case("list-models-from-device", {M: link_to("/dev/zero")}, "character device", "models.yaml:1:1",
         args=("list-models",)),
    Case("add-model-to-fifo", {M: fifo}, "named pipe", "models.yaml:1:1",
         args=("add-model", "--name", "x", "--model-url", "a/b")),
    Case("link-loop", {"a.yaml": link_to("b.yaml"), "b.yaml": link_to("a.yaml")},
         "cannot be read: Too many levels of symbolic links", "a.yaml:1:1", env={"VLLM_MODELS_FILE": "a.yaml"}),
]

E = ".env.local"
DOTENV = [
    Case("dotenv-invalid-utf8", {E: b"VLLM_NAMESPACE=caf\xe9\n"}, "invalid UTF-8", ".env.local:1:19",
         args=("list-models",)),
    Case("dotenv-nul", {E: b"VLLM_NAMESPACE=a\x00b\n"}, "NUL", ".env.local:1:17", args=("list-models",)),
    Case("dotenv-escape", {E: b"A=1\nVLLM_TAG=\x1b[2J\n"}, "ESC", ".env.local:2:10", args=("validate",)),
    Case("dotenv-utf16", {E: "A=1\n".encode("utf-16")}, "UTF-16", ".env.local:1:1", args=("list-models",)),
    Case("dotenv-bom", {E: b"\xef\xbb\xbfA=1\n"}, "byte-order mark", ".env.local:1:1", args=("list-models",)),
    Case("dotenv-no-equals", {E: b"# settings\nVLLM_NAMESPACE\n"}, "not a KEY=VALUE line", ".env.local:2:1",
         args=("list-models",)),
    Case("dotenv-bad-name", {E: b"1VLLM=x\n"}, "the name before '='", ".env.local:1:1", args=("list-models",)),
    Case("dotenv-unquoted-blank", {E: b"export VLLM_NAMESPACE=my ns\n"}, "unquoted value holds a blank",
         ".env.local:1:25", args=("list-models",)),
    Case("dotenv-unterminated", {E: b'VLLM_NAMESPACE="vllm\n'}, "double quote is never closed", ".env.local:1:16",
         args=("list-models",)),
    Case("dotenv-two-bad-lines", {E: b"a b\nc d\n"}, "not a KEY=VALUE line", ".env.local:1:1", lines=2,
         args=("list-models",)),
    Case("dotenv-directory", {E: directory}, "is a directory", ".env.local:1:1", args=("list-models",)),
    Case("dotenv-fifo", {E: fifo}, "named pipe", ".env.local:1:1", args=("--help",)),
    Case("dotenv-huge", {E: b"A=1\n" * 70_000}, "larger than 256 KiB", ".env.local:1:1", args=("list-models",)),
    Case("dotenv-bad-value-named", {E: b"VLLM_NAMESPACE=Bad_NS\n"}, r"\(VLLM_NAMESPACE\) must be a DNS-1123 label",
         None, args=("render", "-d", "out")),
]

KUBE = [
    Case("replicas-beyond-int32", {M: model("replicaCount: 2147483648")}, "at most 2147483647", "models.yaml:3:17"),
    Case("replicas-huge", {M: model("replicaCount: " + "9" * 400)}, r"at most 2147483647 .*, got 9+\.\.\.",
         "models.yaml:3:17"),
    Case("gpus-beyond-int32", {M: model("requestGPU: 99999999999")}, "at most 2147483647", "models.yaml:3:15"),
    Case("memory-beyond-int64", {M: model("requestMemory: 99999999Ei")}, "more than Kubernetes can store",
         "models.yaml:3:18"),
    Case("memory-unit-typo", {M: model("requestMemory: 16GB")}, "did you mean 16G", "models.yaml:3:18"),
    Case("limit-below-request", {M: model("requestMemory: 32Gi", "limitMemory: 16Gi")}, "below requestMemory",
         "models.yaml:4:16"),
    Case("storage-class-uppercase", {M: model("storageClass: Fast_SSD")}, "not a valid Kubernetes name",
         "models.yaml:3:17"),
    Case("storage-class-too-long", {M: model("storageClass: " + "a" * 254)}, "at most 253 characters",
         "models.yaml:3:17"),
    Case("priority-class-spaces", {M: model("priorityClassName: 'high prio'")}, "DNS-1123 subdomain",
         "models.yaml:3:22"),
    Case("annotation-key-space", {M: model("podAnnotations:", "  'bad key': x")}, "annotation key 'bad key'",
         "models.yaml:4:5"),
    Case("annotation-key-bad-prefix", {M: model("podAnnotations:", "  Example_Com/x: y")}, "DNS subdomain",
         "models.yaml:4:5"),
    Case("annotation-name-too-long", {M: model("podAnnotations:", f"  {'a' * 64}: y")}, "at most 63",
         "models.yaml:4:5"),
    Case("toleration-exists-with-value", {M: model("tolerations:", "- {key: gpu, operator: Exists, value: x}")},
         "operator Exists matches any value", "models.yaml:4:41"),
    Case("toleration-no-key-equal", {M: model("tolerations:", "- {operator: Equal, value: x}")},
         "without a key must use operator Exists", "models.yaml:4:5"),
    Case("toleration-seconds-no-execute", {M: model("tolerations:", "- {key: k, tolerationSeconds: 30}")},
         "only to effect NoExecute", "models.yaml:4:33"),
    Case("toleration-bad-key", {M: model("tolerations:", "- {key: 'nvidia.com/gpu count', operator: Exists}")},
         "not a valid Kubernetes key", "models.yaml:4:11"),
    Case("toleration-bad-value", {M: model("tolerations:", "- {key: k, value: 'a b'}")}, "not a valid label value",
         "models.yaml:4:21"),
    Case("selector-in-without-values", {M: model("nodeSelectorTerms:", "- matchExpressions:",
                                                 "  - {key: gpu, operator: In}")},
         "needs at least one entry in values", "models.yaml:5:7"),
    Case("selector-exists-with-values", {M: model("nodeSelectorTerms:", "- matchExpressions:",
                                                  "  - {key: gpu, operator: Exists, values: [a]}")},
         "takes no values", "models.yaml:5:7"),
    Case("selector-gt-not-number", {M: model("nodeSelectorTerms:", "- matchExpressions:",
                                             "  - {key: mem, operator: Gt, values: [lots]}")},
         "exactly one value, a whole number", "models.yaml:5:7"),
    Case("selector-label-value-too-long", {M: model("nodeSelectorTerms:", "- matchExpressions:",
                                                    f"  - {{key: a, operator: In, values: [{'v' * 64}]}}")},
         "not a valid label value", "models.yaml:5:38"),
    Case("image-uppercase", {M: model("image: MyOrg/VLLM")}, "not an image repository", "models.yaml:3:10"),
    Case("image-empty", {M: model("image: ''")}, "not an image repository", "models.yaml:3:10"),
    Case("tag-with-colon", {M: model("image: vllm/vllm-openai", "tag: 'v1:2'")}, "not an image tag",
         "models.yaml:4:8"),
    Case("setting-empty-image", {M: OK_HEAD}, "VLLM_MODEL_IMAGE .it must not be empty", None,
         env={"VLLM_MODEL_IMAGE": ""}),
    Case("setting-empty-tag", {M: OK_HEAD}, "VLLM_MODEL_TAG .it must not be empty", None,
         env={"VLLM_MODEL_TAG": ""}),
    Case("setting-storage-class", {M: OK_HEAD}, "VLLM_STORAGE_CLASS: 'SSD' is not a valid Kubernetes name", None,
         env={"VLLM_STORAGE_CLASS": "SSD"}),
    Case("setting-runtime-class", {M: OK_HEAD}, "VLLM_RUNTIME_CLASS", None, env={"VLLM_RUNTIME_CLASS": "nv idia"},
         args=("render", "-d", "out")),
    Case("setting-secret-store", {M: OK_HEAD}, "VLLM_SECRET_STORE", None, env={"VLLM_SECRET_STORE": "Vault"},
         args=("render", "-d", "out")),
    Case("setting-eso-namespace", {M: OK_HEAD}, "EXTERNAL_SECRETS_NAMESPACE must be a DNS-1123 label", None,
         env={"EXTERNAL_SECRETS_NAMESPACE": "a.b"}, args=("render", "-d", "out")),
    Case("setting-router-request-above-limit", {M: OK_HEAD}, "VLLM_ROUTER_REQUEST_MEMORY 2Gi is above", None,
         env={"VLLM_ROUTER_REQUEST_MEMORY": "2Gi"}, args=("render", "-d", "out")),
    Case("setting-router-replicas-int32", {M: OK_HEAD}, "at most 2147483647", None,
         env={"VLLM_ROUTER_REPLICAS": "4294967296"}, args=("render", "-d", "out")),
    Case("setting-router-image", {M: OK_HEAD}, "VLLM_ROUTER_IMAGE: 'Router/X'", None,
         env={"VLLM_ROUTER_IMAGE": "Router/X"}, args=("render", "-d", "out")),
    Case("setting-control-chars-escaped", {M: OK_HEAD}, r"got 'a\\x1b\[2Jb'", None,
         env={"VLLM_NAMESPACE": "a\x1b[2Jb"}, args=("render", "-d", "out")),
]

NULLS = [
    Case("null-env-value", {M: model("env:", "  A:")}, r"'A' is empty \(null\)", "models.yaml:4:5"),
    Case("null-extra-arg", {M: model("vllmConfig:", "  extraArgs: [--x, null]")}, r"'extraArgs\[1\]' is empty",
         "models.yaml:4:"),
    Case("null-toleration", {M: model("tolerations:", "-")}, r"'tolerations\[0\]' is empty", "models.yaml:4:"),
    Case("null-annotation", {M: model("podAnnotations: {a: ~}")}, "'a' is empty", "models.yaml:3:"),
    Case("null-selector-value", {M: model("nodeSelectorTerms:", "- matchExpressions:",
                                          "  - {key: a, operator: In, values: [null]}")},
         r"'values\[0\]' is empty", "models.yaml:5:"),
    Case("list-in-env-one-message", {M: model("env: {A: [1]}")}, "must be a string, a number or true or false",
         "models.yaml:3:"),
]

S = ("--namespace", "x")
SECRETS = [
    Case(f"stray-argument-{cmd}", {}, "not repeated here", None, args=(cmd, "sk-LEAKED-secret-value"))
    for cmd in ("get-api-key", "get-hf-token", "delete-api-key", "delete-hf-token", "delete-api-key-secret",
                "delete-hf-token-secret", "set-api-key", "create-hf-token-secret")
] + [
    Case("stray-option-get-api-key", {}, "not repeated here", None, args=("get-api-key", "--sk-LEAKED-value")),
    Case("bad-choice-get-hf-token", {}, "not repeated here", None, args=("get-hf-token", "-o", "hf_LEAKEDvalue")),
]

ADD = ("add-model", "--name", "x", "--model-url", "org/x")
EDITS = [
    Case("add-model-unknown-extra-arg", {M: OK_HEAD}, "--no-such-flag", None,
         args=(*ADD, "--extra-arg", "--no-such-flag")),
    Case("add-model-removed-extra-arg", {M: OK_HEAD}, "--disable-log-requests was removed", None,
         args=(*ADD, "--extra-arg", "--disable-log-requests")),
    Case("add-model-bad-extra-arg-value", {M: OK_HEAD}, "--max-num-seqs", None,
         args=(*ADD, "--extra-arg", "--max-num-seqs=many")),
    Case("add-model-to-broken-file", {M: OK_HEAD + b"  tag: \xff\n"}, "invalid UTF-8", "models.yaml:3:8", args=ADD),
    Case("plan-billion-laughs", {M: billion_laughs()}, "expands to more than", "models.yaml:1:3", args=("plan",)),
    Case("remove-model-from-bomb", {M: billion_laughs()}, "expands to more than", "models.yaml:1:3",
         args=("remove-model", "m1", "--yes")),
]

OV = "values.override.yaml"  # the values overlay beside models.yaml
OVERLAY = [
    Case("overlay-deep-nesting", {M: OK_HEAD, OV: b"[" * 100_000}, "nested deeper than 64 levels",
         "values.override.yaml:1:65"),  # PyYAML's C composer would crash the process (SIGSEGV)
    Case("overlay-nul", {M: OK_HEAD, OV: b"routerSpec:\n  x: \x00\n"}, "NUL", "values.override.yaml:2:6"),
    Case("overlay-invalid-utf8", {M: OK_HEAD, OV: b"routerSpec:\n  x: \xe9\n"}, "invalid UTF-8",
         "values.override.yaml:2:6"),
    Case("overlay-utf16", {M: OK_HEAD, OV: "routerSpec: {}\n".encode("utf-16")}, "UTF-16",
         "values.override.yaml:1:1"),
    Case("overlay-over-size", {M: OK_HEAD, OV: b"# " + b"x" * 300_000}, "larger than 256 KiB",
         "values.override.yaml:1:1"),
    Case("overlay-alias", {M: OK_HEAD, OV: b"a: &x [1]\nb: *x\n"}, "anchors and aliases", "values.override.yaml:1:"),
]

CASES = BYTES + BOMBS + KINDS + DOTENV + KUBE + NULLS + SECRETS + EDITS + OVERLAY


def _make(work: Path, files) -> None:
    for name, content in files.items():
        path = work / name
        if callable(content):
            content(path)
        else:
            path.write_bytes(content)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_input(case: Case, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _make(work, case.files)
    before = snapshot(work)
    r = run_measured(case.args, work, {"HOME": str(tmp_path), **case.env})
    check_refusal(r, code=case.code, message=case.message, where=case.where, lines=case.lines)
    after = snapshot(work)
    after.pop(".models.yaml.lock", None)  # add-model's lock file: empty, kept for the next writer
    assert after == before, "a file changed, appeared or vanished"


def test_corpus_is_large():
    assert len(CASES) >= 60
