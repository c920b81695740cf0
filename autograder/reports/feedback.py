"""Feedback that tells a student what failed without revealing the hidden tests.

nbgrader's stock feedback copies the autograded notebook, hidden tests and tracebacks included
(jupyter/nbgrader#917). `HideHiddenTests` is added to `GenerateFeedback.preprocessors` in
nbgrader_config.py. Per graded test cell the student sees the points (nbgrader's header), pass or
fail, and the diagnostic message course.checks writes to name the likely mistake:
  * the hidden test region is removed from the source;
  * every error's traceback (which quotes the failing line of the test) becomes its last line,
    the exception and its message;
  * a test cell with hidden tests keeps only its error outputs: what else it printed or displayed
    may show expected values;
  * any output line anywhere in the notebook that repeats a line of a hidden test is replaced:
    code in a submission could print the hidden source from inside the kernel (and is flagged
    by autograder/safety/tamper.py for a person anyway).
`autograded/` keeps the hidden tests; only feedback/ goes back to students.

The page's mathematics is typeset by MathJax put inside the page itself (`inline_mathjax`, the
feedback template's header): it renders with no network, wherever the student opens the file.

`generate` writes the class's feedback so that one student never stops it: each cell is cut to a
size nbconvert renders quickly (`LimitCellSize`), a student whose pages take too long is skipped
and reported, and a notebook that could not be read gets a page saying what was received and why
it scored 0.
"""
import functools
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool, Integer

HIDDEN_NOTE = "# (hidden tests ran here; their source is not shown)"
REDACTED = "[a line of a hidden test was here]"
BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MIN_SECRET_LENGTH = 12  # shorter lines ("assert x", "else:") say nothing about a test


def hidden_lines(nb) -> set[str]:
    """The stripped, long enough lines inside hidden test regions of `nb`."""
    lines = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or BEGIN not in cell.source:
            continue
        for region in cell.source.split(BEGIN)[1:]:
            for line in region.split(END)[0].splitlines():
                if len(line.strip()) >= MIN_SECRET_LENGTH and not line.strip().startswith("#"):
                    lines.add(line.strip())
    return lines


def _redact(text: str, secrets: set[str]) -> str:
    if not secrets or not isinstance(text, str):
        return text
    return "\n".join(REDACTED if any(s in line for s in secrets) else line
                     for line in text.split("\n"))


def test_label(test_id: str, answer_ids: list[str]) -> str:
    """How the feedback's table of contents names a test cell: its exercise (the answer cell it
    grades, by the course's naming test_<answer>[_<property>]) and property, e.g.
    "numerical_gradient: shape 2d"; the grade id itself when it follows no answer's name."""
    matches = [a for a in answer_ids if test_id == f"test_{a}" or test_id.startswith(f"test_{a}_")]
    if not matches:
        return test_id
    answer = max(matches, key=len)
    detail = test_id[len(f"test_{answer}"):].strip("_").replace("_", " ")
    return f"{answer}: {detail}" if detail else answer


class HideHiddenTests(ClearHiddenTests):
    """Strip hidden test source, test tracebacks and leaking outputs from the student's copy;
    name each test cell for the table of contents (metadata course_label, read by the
    course_feedback template in templates/)."""

    def preprocess(self, nb, resources):
        self._secrets = hidden_lines(nb)
        answers = [c.metadata.nbgrader.get("grade_id", "") for c in nb.cells
                   if is_solution(c)]
        for cell in nb.cells:
            if is_grade(cell) and not is_solution(cell):
                cell.metadata["course_label"] = test_label(
                    cell.metadata.nbgrader.get("grade_id", ""), answers)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code":
            return cell, resources
        if is_grade(cell) and not is_solution(cell):
            had_hidden = self._remove_hidden_test_region(cell)
            if had_hidden:
                cell.source = cell.source.rstrip("\n") + "\n" + HIDDEN_NOTE
                cell.outputs = [o for o in cell.get("outputs", [])
                                if o.get("output_type") == "error"]
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [
                        f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        for output in cell.get("outputs", []):
            self._scrub(output)
        return cell, resources

    def _scrub(self, output) -> None:
        secrets = getattr(self, "_secrets", set())
        if "text" in output:
            output["text"] = _redact(output["text"], secrets)
        if output.get("output_type") == "error":
            output["evalue"] = _redact(output.get("evalue", ""), secrets)
            output["traceback"] = [_redact(t, secrets) for t in output.get("traceback", [])]
        for mime, value in (output.get("data") or {}).items():
            if mime.startswith("text/"):
                output["data"][mime] = _redact(value if isinstance(value, str) else "".join(value),
                                               secrets)


# --- limits: one student's notebook never stops the class's feedback ----------------------------

MAX_CELL_CHARS = 10_000    # nbconvert's markdown rendering is quadratic: 120 KB cost 28 s
STUDENT_SECONDS = 120.0    # a student whose feedback takes longer is skipped and reported
NOT_RECEIVED = ("timestamp.txt", "submission_secret.txt")  # nbgrader's files, not the student's
CUT_NOTE = "\n\n[cut for the feedback page: this cell had {n} characters; the first {m} are shown]"


def _cut(text, limit: int):
    if isinstance(text, list):
        text = "".join(text)
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return text[:limit] + CUT_NOTE.format(n=len(text), m=limit)


class LimitCellSize(Preprocessor):
    """Cut every cell's source and text outputs to MAX_CELL_CHARS characters before the page is
    rendered, so one huge cell (a pasted data dump, a markdown bomb) costs no more than a normal
    one. First in GenerateFeedback.preprocessors (nbgrader_config.py); grading is unaffected."""

    limit = Integer(MAX_CELL_CHARS, help="characters kept per cell source or output").tag(config=True)
    enabled = Bool(True)  # nbconvert runs a preprocessor only when enabled

    def preprocess_cell(self, cell, resources, cell_index):
        cell.source = _cut(cell.source, self.limit)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = _cut(output["text"], self.limit)
            for mime, value in (output.get("data") or {}).items():
                if mime.startswith("text/") or mime in ("application/json",):
                    output["data"][mime] = _cut(value, self.limit)
        return cell, resources


# --- MathJax inside the page --------------------------------------------------------------------
#
# nbgrader's feedback template loads MathJax from a CDN, so a student offline (or behind a
# firewall) sees raw $...$. nbgrader's release_feedback hands out each page's .html file alone
# (a flat copy named by a hash: exchange/default/release_feedback.py), so MathJax cannot sit in a
# folder beside it: it goes inside every page. MathJax 2.7.9 from jupyter-server-mathjax (pinned in
# requirements), TeX in, MathML out (NativeMML): the browser draws the formulas itself (Chrome 109+,
# Firefox, Safari), so no font files and no font data travel with the page. That output is already
# in MathJax's combined configuration; the few files MathJax loads on demand besides (operator
# tables, small TeX extensions) are put in the page too and served to MathJax's loader from there.
# A file MathJax asks for that the page does not hold fails at once (no request leaves the page)
# and is listed in window.courseMathJaxMissing, which the browser test checks is empty.

MATHJAX_ROOT = "about:blank#mathjax"   # MathJax's base URL: never fetched
MATHJAX_ON_DEMAND = ("jax/element/mml/optable/*.js", "extensions/TeX/*.js", "extensions/Safe.js")
MATHJAX_NOT_NEEDED = ("extensions/TeX/mhchem.js", "extensions/TeX/autoload-all.js",
                      "extensions/TeX/mediawiki-texvc.js")  # chemistry, all-at-once, Wikipedia's
MATHJAX_CONFIG = {
    # nbconvert's own settings (its mathjax.html.j2 macro and its URL's "Safe": a student's TeX
    # cannot add links, styles or classes), with MathML output
    "jax": ["input/TeX", "output/NativeMML"],
    "extensions": ["tex2jax.js", "MathEvents.js", "MathZoom.js", "MathMenu.js", "toMathML.js",
                   "TeX/noErrors.js", "TeX/noUndefined.js", "TeX/AMSmath.js", "TeX/AMSsymbols.js",
                   "Safe.js"],
    "TeX": {"equationNumbers": {"autoNumber": "AMS", "useLabelIds": True}},
    "tex2jax": {"inlineMath": [["$", "$"], ["\\(", "\\)"]],
                "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
                "processEscapes": True, "processEnvironments": True},
    "displayAlign": "center",
    "messageStyle": "none",
    "menuSettings": {"renderer": "NativeMML"},
}
MATHJAX_LOADER = """
(function () {
  var AJAX = MathJax.Ajax, ROOT = AJAX.config.root + "/", UNUSED = "jax/output/HTML-CSS/";
  var FILES = JSON.parse(document.getElementById("course-mathjax-files").textContent);
  window.courseMathJaxMissing = [];
  AJAX.loader.JS = function (url, callback) {  // MathJax's file loader, from this page
    var name = url.indexOf(ROOT) === 0 ? url.slice(ROOT.length) : url;
    this.loading[url] = {callback: callback, timeout: null, status: this.STATUS.OK, script: null,
                         message: MathJax.Message.File(this.fileName(url))};
    if (Object.prototype.hasOwnProperty.call(FILES, name)) {
      var script = document.createElement("script");
      script.text = FILES[name];  // ends with MathJax.Ajax.loadComplete(url)
      this.head.appendChild(script);
    } else {
      // HTML-CSS output, in the combined configuration but unused, still asks for its fonts
      if (name.indexOf(UNUSED) !== 0) window.courseMathJaxMissing.push(name);
      this.loadTimeout(url);  // MathJax's own path for a file that did not load
    }
  };
  // The combined configuration picks HTML-CSS output (font files) on Chrome: MathML instead.
  MathJax.Hub.Register.StartupHook("End Config", function () {
    MathJax.OutputJax["HTML-CSS"].Register = function () {};
    MathJax.OutputJax.NativeMML.Register("jax/mml");
  });
})();
"""


def _script(code: str) -> str:
    """A <script> element holding the JavaScript `code`. Only "</script" ends it early (HTML's
    rule; MathJax's files have none, and rewriting "</" elsewhere would break its regular
    expressions such as /</g)."""
    if re.search(r"</script|<!--\s*<script", code, re.IGNORECASE):
        raise ValueError("this JavaScript would end its <script> element early")
    return "<script>" + code + "</script>"


def _json_script(value, element_id: str) -> str:
    """A <script type="application/json"> element holding `value` (every "<" escaped)."""
    text = json.dumps(value).replace("<", "\\u003c")
    return f'<script id="{element_id}" type="application/json">{text}</script>'


def mathjax_folder() -> Path:
    """MathJax's files, as jupyter-server-mathjax installs them."""
    import jupyter_server_mathjax
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def inline_mathjax(_value=None) -> str:
    """The <script> elements that typeset the page's TeX with no network: MathJax itself, its
    combined TeX configuration, the files it loads on demand, and the settings. A Jinja filter
    of the feedback template (`{{ resources | inline_mathjax }}`, set in nbgrader_config.py;
    the value it filters is not used)."""
    return _inline_mathjax()


@functools.cache
def _inline_mathjax() -> str:
    static = mathjax_folder()
    on_demand = {str(p.relative_to(static)): p.read_text(encoding="utf-8")
                 for pattern in MATHJAX_ON_DEMAND for p in sorted(static.glob(pattern))
                 if str(p.relative_to(static)) not in MATHJAX_NOT_NEEDED}
    settings = {"root": MATHJAX_ROOT, "delayStartupUntil": "configured"}
    return "\n".join([
        "<!-- MathJax 2.7.9 (jupyter-server-mathjax), inside the page: no network needed -->",
        _script(f"window.MathJax = {json.dumps(settings)};"),
        _script((static / "MathJax.js").read_text(encoding="utf-8")),
        _json_script(on_demand, "course-mathjax-files"),
        _script(MATHJAX_LOADER),
        _script((static / "config" / "TeX-AMS-MML_HTMLorMML-full.js").read_text(encoding="utf-8")),
        # Hub.Config merges arrays index by index: the lists are set, the rest merged
        _script("".join(f"MathJax.Hub.config.{key} = {json.dumps(MATHJAX_CONFIG[key])};"
                        for key in ("jax", "extensions"))
                + f"MathJax.Hub.Config({json.dumps(MATHJAX_CONFIG)}); MathJax.Hub.Configured();"),
    ])


# --- writing the class's feedback ------------------------------------------------------------

@dataclass
class FeedbackRun:
    """What `generate` did: students who got feedback, and a sentence per student who did not."""
    written: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def feedback_folder(course: Path, assignment: str, student: str) -> Path:
    return Path(course) / "feedback" / student / assignment


def _nbgrader_feedback(course: Path, assignment: str, exclude: set[str], limit: float
                       ) -> tuple[int, str | None]:
    """Run `nbgrader generate_feedback` for the class less `exclude`, watching its log: when one
    student's notebooks take longer than `limit` seconds, the run is stopped.
    Returns (exit status, the student it was stopped on, or None)."""
    from autograder.nbgrader_cli import nbgrader_env
    command = [str(Path(sys.executable).parent / "nbgrader"), "generate_feedback", assignment,
               "--force"]
    if exclude:
        command.append(f"--CourseDirectory.student_id_exclude={','.join(sorted(exclude))}")
    process = subprocess.Popen(command, cwd=course, env=nbgrader_env(), text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    state = {"student": None, "since": time.monotonic()}
    pattern = re.compile(re.escape(os.sep + "autograded" + os.sep) + r"(.+?)" +
                         re.escape(os.sep + assignment + os.sep))

    def follow():  # nbgrader logs "Converting notebook .../autograded/<student>/<assignment>/..."
        for line in process.stderr:
            found = pattern.search(line)
            if found and found.group(1) != state["student"]:
                state["student"], state["since"] = found.group(1), time.monotonic()
    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    while process.poll() is None:
        if state["student"] is not None and time.monotonic() - state["since"] > limit:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return process.returncode, state["student"]
        time.sleep(0.2)
    reader.join(timeout=5)
    return process.returncode, None


def generate(course, assignment: str, students: list[str] | None = None,
             limit: float = STUDENT_SECONDS) -> FeedbackRun:
    """Feedback HTML for every submission of `assignment` the gradebook holds (of `students`
    only, if given), through `nbgrader generate_feedback` with this module's preprocessors
    (nbgrader_config.py): one nbgrader run for the class, stopped and resumed without a student
    whose feedback takes longer than `limit` seconds. Every submitted notebook that could not be
    read gets a page of its own saying what was received and why it scored 0."""
    from autograder.grading import batch, gradebook, submissions
    course = Path(course).resolve()
    url = gradebook.gradebook_url(course)
    everyone = {s for a, s in gradebook.graded_submissions(url, batch.course_id(course))
                if a == assignment}
    graded = sorted(s for s in everyone if students is None or s in students)
    run, skipped, started = FeedbackRun(), set(), time.time()
    todo = list(graded)
    while todo:  # one nbgrader run for all of `todo`, again without a student it stopped on
        _, stopped = _nbgrader_feedback(course, assignment, everyone - set(todo), limit)
        if stopped is None:
            break
        skipped.add(stopped)
        run.problems.append(f"no feedback for {stopped}: its feedback took longer than "
                            f"{limit:g} s (skipped; the others go on)")
        todo = [s for s in todo if s not in skipped and not _fresh(course, assignment, s, started)]
    unreadable = set()
    for student in submissions.submitted_students(course, assignment):
        if students is None or student in students:
            problems = submissions.check_submission(course, assignment, student)
            if problems and unreadable_page(course, assignment, student, problems):
                unreadable.add(student)
    for student in sorted(set(graded) | unreadable):
        if student in unreadable or _fresh(course, assignment, student, started):
            run.written.append(student)
        elif student not in skipped:
            run.problems.append(f"no feedback for {student}: nbgrader generate_feedback wrote none")
    return run


def _fresh(course: Path, assignment: str, student: str, since: float) -> bool:
    """Whether feedback/<student>/<assignment>/ holds a page written since `since`."""
    return any(p.stat().st_mtime >= since - 1
               for p in feedback_folder(course, assignment, student).glob("*.html"))


def unreadable_page(course: Path, assignment: str, student: str, problems: list[str]) -> list[Path]:
    """A feedback page for each released notebook of a submission that could not be graded (not
    valid JSON, or not found under its name): what was received, and why it scored 0.

    nbgrader's release_feedback and the student's fetch_feedback must carry it as they carry a
    graded page: the folder gets the submission's timestamp.txt and submission_secret.txt (which
    release_feedback reads for every page, and stops at the first folder without), and the page
    of a renamed notebook is also written under the name of the notebook the student submitted,
    since fetch_feedback looks for a page per notebook of the student's own submission."""
    from autograder.grading import submissions
    folder = submissions.submission_folder(course, assignment, student)
    received = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in NOT_RECEIVED)
    listing = "".join(f"<li><code>{html.escape(str(p.relative_to(folder)))}</code> "
                      f"({p.stat().st_size:,} bytes)</li>" for p in received) or "<li>nothing</li>"
    released = submissions.released_notebooks(course, assignment)
    renamed = sorted(p.stem for p in folder.glob("*.ipynb") if p.name not in released)
    out = feedback_folder(course, assignment, student)
    written = []
    for name in released:
        about = [p for p in problems if p.startswith(name + " ")]
        if not about:
            continue
        # under the released name (the instructor's view) and, if renamed, the submitted one's
        stems = [Path(name).stem] + ([] if (folder / name).exists() else renamed)
        out.mkdir(parents=True, exist_ok=True)
        reasons = "".join(f"<li>{html.escape(p)}</li>" for p in about)
        page = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(name)}: "
            f"not graded</title></head><body style='font-family:sans-serif;max-width:50em;"
            f"margin:2em auto'><h1>{html.escape(assignment)}: {html.escape(name)} could not be "
            f"graded</h1><p>It scored 0. Why:</p><ul>{reasons}</ul><p>What we received from "
            f"you (<code>{html.escape(student)}</code>) for {html.escape(assignment)}:</p>"
            f"<ul>{listing}</ul><p>Submit the notebook again under the name "
            f"<code>{html.escape(name)}</code>, saved from JupyterLab (File &gt; Save), and ask "
            f"your instructor to grade it again.</p></body></html>")
        for stem in stems:
            (out / f"{stem}.html").write_text(page, encoding="utf-8")
            written.append(out / f"{stem}.html")
    if written:
        for name in NOT_RECEIVED:  # what release_feedback needs beside each page
            if (folder / name).is_file() and not (out / name).exists():
                shutil.copyfile(folder / name, out / name)
    return written


from nbconvert.exporters import HTMLExporter as _HTMLExporter  # noqa: E402


class FeedbackExporter(_HTMLExporter):
    """The HTML exporter of `nbgrader generate_feedback` only (`c.GenerateFeedback.exporter_class`):
    its template (`c.FeedbackExporter.template_file`, feedback_with_names.html.j2) is set for it
    alone, so formgrader's own HTMLExporter keeps formgrader's template for the grading view."""
