"""Grade submissions with an otter-grader autograder zip, offline, each in its own directory under a time limit.

    python assignments/grade.py AUTOGRADER.zip SUBMISSION.ipynb [...] --out grades.csv

``python assignments/grade.py --help`` lists the options; the grader itself is the package ``assignments/grading``
(its command line is :mod:`grading.cli`).
"""

import sys

from grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
