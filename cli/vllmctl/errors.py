"""Exception types and the exit codes they map to (documented in the README)."""

from __future__ import annotations

OK = 0
FAILED = 1  # an operation against a cluster, Vault, Helm or an endpoint failed
INVALID = 2  # invalid input or usage, including a missing answer in non-interactive mode
UNREACHABLE = 3  # a server the command needs (API server, Vault, Hub, endpoint) cannot be reached
ROLLOUT_FAILED = 4  # the release was applied but its pods did not become ready (or were rolled back)
NO_CHANGES = 5  # only with --detailed-exit-code: there was nothing to apply
INTERRUPTED = 130


class VllmctlError(Exception):
    """An error that ends the command with one clear line and a documented exit code."""

    exit_code = FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class InvalidInput(VllmctlError):
    exit_code = INVALID


class NotInstalled(InvalidInput):
    """The release (or the part of it a command needs) is not in the namespace. Exit 2 for every
    command, as for a wrong setting: the fix is --release / --namespace / --context, or an install."""


class MissingAnswer(InvalidInput):
    """A value that would be prompted for on a TTY is missing in non-interactive mode."""


class Unreachable(VllmctlError):
    exit_code = UNREACHABLE


class OperationFailed(VllmctlError):
    exit_code = FAILED


class RolloutFailed(VllmctlError):
    exit_code = ROLLOUT_FAILED



class VaultPathAbsent(InvalidInput):
    """The Vault path (or the field in it) holds nothing."""


class HubError(OperationFailed):
    """The Hugging Face Hub answered, but not with what was asked for."""


class HubUnreachable(HubError):
    exit_code = UNREACHABLE


class HubNotFound(HubError):
    exit_code = INVALID


class HubAuthError(HubError):
    """The token is missing, invalid, or has no access to the repository."""

    exit_code = INVALID
