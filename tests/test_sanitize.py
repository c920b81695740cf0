"""A student's HTML and JavaScript are made inert in the autograded notebook
(autograder/safety/sanitize.py), while plots, text and the instructor's own cells stay as they are.
tests/test_formgrader_scripts.py proves it in Chromium, in formgrader's submission view."""
import base64
import copy
import re
from html.parser import HTMLParser

import nbformat
import pytest
from nbconvert import HTMLExporter
from traitlets.config import Config

from autograder.notebooks import read
from autograder.safety import sanitize
from autograder.safety.sanitize import SanitizeStudentHTML, is_inert_markdown, shown_as_text
from conftest import ASSIGNMENTS, ROOT

ASSIGNMENT = "01_gradients"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()
SCRIPT = "document.title='RAN'"


def _output(data: dict, kind="display_data"):
    extra = {"execution_count": 1} if kind == "execute_result" else {}
    return nbformat.from_dict({"output_type": kind, "data": data, "metadata": {}, **extra})


def _hostile(release):
    """The release with a code cell whose outputs carry scripts beside a plot and text, and
    markdown cells of every kind."""
    nb = copy.deepcopy(release)
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [
        _output({"text/html": f"<script>{SCRIPT}</script><b>bold</b>", "text/plain": "<HTML>"}),
        _output({"application/javascript": SCRIPT, "text/plain": "<JS>"}),
        _output({"text/html": f'<img src="x" onerror="{SCRIPT}"><table><tr><td>1</td></tr></table>'
                              '<a href="page.html">a handed-in page</a><a href="https://x.org">ok</a>'},
                kind="execute_result"),
        _output({"image/png": PNG, "text/plain": "<Figure>"}),
        _output({"image/svg+xml": f"<svg onload=\"{SCRIPT}\"></svg>", "text/plain": "<SVG>"}),
        _output({"text/markdown": "[click](javascript:alert(1))"}),
        _output({"text/latex": "$\\href{javascript:alert(1)}{click}$", "text/plain": "<Latex>"}),
        nbformat.v4.new_output("stream", name="stdout", text="<script>printed, not HTML</script>"),
    ]
    nb.cells += [
        cell,
        nbformat.v4.new_markdown_cell(f"My answer.\n\n<script>{SCRIPT}</script>"),
        nbformat.v4.new_markdown_cell("[a link](jav&#97;script:alert(1)) that hides its scheme"),
        nbformat.v4.new_markdown_cell("Plain text with math $a < b$ and `code <here>`."),
        nbformat.v4.new_raw_cell(f"<script>{SCRIPT}</script>"),
    ]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


@pytest.fixture(scope="module")
def sanitized():
    release = read(ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    config = Config()
    config.CourseDirectory.root = str(ROOT)
    resources = {"nbgrader": {"assignment": ASSIGNMENT, "notebook": ASSIGNMENT}}
    # called as nbconvert calls a listed preprocessor (it skips one that is not enabled)
    nb, _ = SanitizeStudentHTML(config=config)(_hostile(release), resources)
    return release, nb


def test_outputs_keep_plots_and_text_and_lose_scripts(sanitized):
    _, nb = sanitized
    outputs = nb.cells[len(nb.cells) - 5].outputs
    html, js, img, png, svg, markdown, latex, stream = outputs
    assert "<script" not in html.data["text/html"] and "&lt;script&gt;" in html.data["text/html"]
    assert "<b>bold</b>" in html.data["text/html"] and html.data["text/plain"] == "<HTML>"
    assert set(js.data) == {"text/plain"}
    assert "onerror" not in img.data["text/html"] and "<td>1</td>" in img.data["text/html"]
    # formgrader serves the submission's files on the instructor's origin: no relative link
    assert "page.html" not in img.data["text/html"] and 'href="https://x.org"' in img.data["text/html"]
    assert png.data == {"image/png": PNG, "text/plain": "<Figure>"}
    assert set(svg.data) == {"text/plain"}
    assert set(markdown.data) == {"text/plain"}
    assert latex.data == {"text/plain": "<Latex>"}  # MathJax would make a javascript: link
    assert stream.text == "<script>printed, not HTML</script>"  # rendered escaped anyway
    assert "widgets" not in nb.metadata


def test_a_students_markdown_with_html_or_a_hidden_scheme_is_shown_as_text(sanitized):
    release, nb = sanitized
    script_md, link_md, plain_md, raw = nb.cells[-4:]
    assert script_md.source == shown_as_text(f"My answer.\n\n<script>{SCRIPT}</script>")
    assert link_md.source.startswith(shown_as_text("")[:40]) and "jav&#97;script" in link_md.source
    assert plain_md.source == "Plain text with math $a < b$ and `code <here>`."
    assert "<script" not in raw.source
    # the instructor's cells are untouched
    assert [c.source for c in nb.cells[:len(release.cells)]] == [c.source for c in release.cells]


class _Live(HTMLParser):
    """Collects what would run in a browser: script bodies and on* attributes."""

    def __init__(self):
        super().__init__()
        self.scripts, self.handlers, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        self.handlers += [v for k, v in attrs if k.startswith("on")]

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _live(page: str) -> list[str]:
    parser = _Live()
    parser.feed(page)
    return [s for s in parser.scripts + parser.handlers if "RAN" in s or "javascript:" in s]


def test_the_rendered_page_has_no_live_script_of_the_student(sanitized):
    """nbconvert's HTML (what formgrader and the feedback render) of the sanitized notebook runs
    none of the student's code; that of the unsanitized one would (the check can fail)."""
    release, nb = sanitized
    assert _live(HTMLExporter().from_notebook_node(_hostile(release))[0])
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert not _live(page)
    assert not re.search(r'href="\s*javascript:', page)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_instructor_markdown_cell_passes_the_students_rules(assignment):
    """The rules are not so strict that ordinary markdown (math, tables, headings, images of the
    course's notebooks) would be shown as text: every release cell passes them."""
    nb = read(ROOT / "release" / assignment / f"{assignment}.ipynb")
    failing = [c.source[:80] for c in nb.cells if c.cell_type == "markdown"
               and not is_inert_markdown(c.source, c.get("attachments"))]
    assert not failing


@pytest.mark.parametrize("source", [
    "<script>x()</script>", '<img src="a.png" onerror="x()">', "[x](javascript:x())",
    '<a href="JaVa&#x09;ScRiPt:x()">x</a>', '<a href="data:text/html,<script>x()</script>">x</a>',
    "<iframe src='/api/contents'></iframe>", "<style>body{display:none}</style>",
    "$\\href{javascript:x()}{click}$", "<form action='/api/contents'><button>x</button></form>",
    "![x](data:image/svg+xml;base64,PHN2Zz4=)", "<details ontoggle='x()' open>x</details>",
    "[my page](page.html)", "[up](../../../source/01_gradients/01_gradients.ipynb)"])
def test_markdown_that_could_run_code_is_not_inert(source):
    assert not is_inert_markdown(source)


def test_a_fence_longer_than_any_backtick_run_keeps_the_text_inside():
    shown = shown_as_text("a ```` b")
    assert "`````text\na ```` b\n`````" in shown


def test_pages_handed_in_leave_the_autograded_copy_the_instructors_own_stay(tmp_path):
    autograded, source = tmp_path / "autograded", tmp_path / "source"
    (autograded / "sub").mkdir(parents=True)
    source.mkdir()
    for name in ("page.html", "Page.HTM", "picture.svg", "sub/inner.xhtml", "data.xml",
                 "figure.svg", "data.csv", "weights.npy", "notes.txt", "01_gradients.ipynb"):
        (autograded / name).write_text("x")
    (source / "figure.svg").write_text("the instructor's figure")
    removed = sanitize.remove_pages(autograded, source)
    assert sorted(removed) == ["Page.HTM", "data.xml", "page.html", "picture.svg", "sub/inner.xhtml"]
    left = sorted(str(p.relative_to(autograded)) for p in autograded.rglob("*") if p.is_file())
    assert left == ["01_gradients.ipynb", "data.csv", "figure.svg", "notes.txt", "weights.npy"]
