"""`python -m autograder`: the instructor's grading command line (see autograder/cli.py)."""
import sys

from autograder.cli import main

sys.exit(main())
