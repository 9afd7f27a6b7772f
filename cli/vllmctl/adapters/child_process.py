"""Starting child processes with core.child_env's environment, whoever starts them.

A subprocess started without `env` inherits the CLI's whole environment, secrets included. Every
helm coroutine runs on ChildEnvLoop instead: the event loop fills in the child environment for
every subprocess started on it, so no caller (or library) has to remember to pass one.
"""

from __future__ import annotations

import asyncio
import os

from vllmctl.core.child_env import child_environment


class ChildEnvLoop(asyncio.SelectorEventLoop):
    async def subprocess_exec(self, protocol_factory, program, *args, **kwargs):
        kwargs["env"] = child_environment(kwargs.get("env") or os.environ)
        return await super().subprocess_exec(protocol_factory, program, *args, **kwargs)


def run_async(coro):
    """asyncio.run(coro) on a ChildEnvLoop."""
    with asyncio.Runner(loop_factory=ChildEnvLoop) as runner:
        return runner.run(coro)


def environment(**extra: str) -> dict[str, str]:
    """The environment for a child started with subprocess: core.child_env's, plus `extra`."""
    return child_environment(os.environ, **extra)
