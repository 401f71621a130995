"""`python -m tunelab ...` is the `tunelab` command."""
import sys

from tunelab.cli import main

if __name__ == "__main__":
    sys.exit(main())
