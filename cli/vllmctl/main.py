"""Console entry point."""

from vllmctl.commands.app import main, run

__all__ = ["main", "run"]

if __name__ == "__main__":
    run()
