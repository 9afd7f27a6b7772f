"""Helm's own error reaches the user in one line, the items of a multi-error included."""

from __future__ import annotations

from vllmctl.adapters.helm import _error_line


def test_the_last_error_line_with_its_items():
    stderr = ("history.go:56: [debug] x\nError: 1 error occurred:\n\t* ConfigMap \"Bad_Name\" is invalid: "
              "metadata.name: Invalid value\n\n")
    assert _error_line(stderr) == '1 error occurred: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value'


def test_a_plain_error_and_no_error_line():
    assert _error_line("Error: UPGRADE FAILED: boom\n") == "UPGRADE FAILED: boom"
    assert _error_line("something odd\n") == "something odd"
    assert _error_line("") == "helm failed"
