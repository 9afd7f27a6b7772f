"""Console entry point."""

import gc

# A command's start makes some 80,000 objects that all stay alive (modules, classes, pydantic's
# schemas): at the default threshold (700 allocations) the cycle collector walks them about 100
# times for nothing, ~0.1 s of an install's start. At this one it still runs in long-running
# commands (logs -f, status --watch), every 100,000 allocations.
gc.set_threshold(100_000, *gc.get_threshold()[1:])

from vllmctl.commands.app import main, run  # noqa: E402 - after the threshold, which the imports are for

__all__ = ["main", "run"]

if __name__ == "__main__":
    run()
