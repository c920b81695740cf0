"""`python -m autograder.mutation NN_name [-v]`: the documented command, kept where it was; the
harness is autograder/authoring/mutation.py."""
import sys

from autograder.authoring.mutation import main

if __name__ == "__main__":
    sys.exit(main())
