"""nbgrader configuration of the course. The repository root is the nbgrader course directory.

Environment variables (all optional) let a JupyterHub or a test point the course elsewhere:
  COURSE_EXCHANGE   the exchange directory (default: exchange/ inside this repository)
  COURSE_DB_URL     any SQLAlchemy URL for the gradebook (default: SQLite file gradebook.db here)
  COURSE_TIMEOUT    seconds a single cell may run while autograding (default 60)
  COURSE_UNSANDBOXED  "1": grade without the bubblewrap sandbox where none can start (explicit)
"""
import os

ROOT = os.path.dirname(os.path.abspath(__file__))

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "gradients"
c.CourseDirectory.root = ROOT
c.CourseDirectory.db_url = os.environ.get(
    "COURSE_DB_URL", "sqlite:///" + os.path.join(ROOT, "gradebook.db"))
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", os.path.join(ROOT, "exchange"))

# A cell that runs longer than this while autograding is stopped and scores 0.
c.Execute.timeout = int(os.environ.get("COURSE_TIMEOUT", "60"))
c.Execute.interrupt_on_timeout = True

# Feedback shows each test's outcome and message, never the hidden test source or its traceback
# (nbgrader's default reveals both: jupyter/nbgrader#917).
c.GenerateFeedback.preprocessors = [
    "autograder.reports.feedback.LimitCellSize",  # one huge cell never stalls everyone's feedback
    "nbgrader.preprocessors.GetGrades",
    "autograder.reports.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# nbgrader warns "Attribute 'checksum' ... has changed!" for every test cell with hidden tests (the
# student's copy has none): said once and dropped for cells identical to the release, kept for a
# test cell a student changed (autograder/grading/checksums.py).
import logging as _logging  # noqa: E402
from autograder.grading.checksums import ExpectedChecksums as _ExpectedChecksums  # noqa: E402
_logging.getLogger("AutogradeApp").addFilter(_ExpectedChecksums(ROOT))

# The feedback page is nbgrader's own template (feedback/index.html.j2) with each test named in the
# table of contents by its exercise and property (autograder/reports/templates/feedback/).
import nbgrader as _nbgrader  # noqa: E402
import autograder.reports as _reports  # noqa: E402
# Set for the feedback's exporter only: formgrader's grading view renders with its own HTMLExporter.
c.GenerateFeedback.exporter_class = "autograder.reports.feedback.FeedbackExporter"
c.FeedbackExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(_nbgrader.__file__), "server_extensions", "formgrader", "templates"),
    os.path.join(os.path.dirname(_reports.__file__), "templates"),
]
c.FeedbackExporter.template_file = "feedback_with_names.html.j2"
# ... and MathJax inside each page, not from a CDN: a student offline still sees the maths.
c.FeedbackExporter.filters = {"inline_mathjax": "autograder.reports.feedback.inline_mathjax"}

# Late penalties are nbgrader's (c.LateSubmissionPlugin.penalty_method, "none" by default), counted
# from each student's own deadline: extensions.csv in this directory grants extensions per student
# (autograder/grading/extensions.py; `python -m autograder.grading.extensions` checks the file).
c.AssignLatePenalties.plugin_class = "autograder.grading.extensions.DeadlineExtensions"

# A symbolic link, hard link or special file (FIFO, socket, device) in a submission is never
# followed: nbgrader copies and reads only plain files, a notebook that is a link is not read
# (scored 0, reported), and each such file is flagged (autograder/safety/links.py).
from autograder.safety import links as _links  # noqa: E402
_links.install()
c.Autograde.exporter_class = "autograder.safety.links.PlainNotebookExporter"
c.ExchangeFactory.collect = "autograder.safety.links.PlainCollect"  # nor from the exchange

# Every kernel nbgrader autograde starts in this course directory runs in a bubblewrap
# sandbox with resource limits, and a cell's recorded output is capped (autograder/safety/sandbox.py).
# Where no sandbox can start, kernels refuse to start unless COURSE_UNSANDBOXED=1.
c.Autograde.sanitize_preprocessors = [
    "autograder.safety.flags.FlagTampering",  # tampering: gradebook `flagged`, flags.csv (tamper.py)
    "autograder.safety.links.RefuseLinks",  # nothing copied from a link or special file; flagged
    "nbgrader.preprocessors.ClearOutput",
    "autograder.safety.duplicates.DropDuplicateGradeIds",  # a duplicated cell no longer stops autograde
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "autograder.safety.split.SplitExecute",  # tests in a trusted kernel (split.py)
    "autograder.safety.sanitize.SanitizeStudentHTML",  # a student's HTML/JS never runs in formgrader
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
