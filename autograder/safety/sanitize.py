"""A student's HTML and JavaScript never run in the instructor's browser.

formgrader shows an autograded notebook inside the instructor's Jupyter server, on its origin: a
`<script>` in a student's output (an HTML display, `application/javascript`, an `<img onerror=...>`,
raw HTML in a markdown cell) would run there with the instructor's session, and could call the
server's API (delete files, change grades). The feedback page and the class report are made from
the same notebooks.

`SanitizeStudentHTML` is nbconvert's `SanitizeHTML` (bleach), configured in nbgrader_config.py as
the autograde step right after the kernel ran, so the autograded notebook that formgrader, feedback
and the reports read is inert:

* code outputs keep plain text, PNG and JPEG images, LaTeX and JSON as they are; HTML and markdown
  outputs keep a small set of harmless tags (tables, text formatting, images) without any event
  attribute or `javascript:` link, and show anything else as escaped text, so the instructor sees
  what was attempted; every other type (JavaScript, SVG, widgets) is dropped;
* a student's markdown (a markdown cell that is not exactly one of the release's cells, whose
  text, math and HTML stay untouched; a `text/markdown` output) is rendered as formgrader renders
  it (nbconvert's mistune renderer) and checked against the same tags, attributes and link
  schemes (no relative link: formgrader serves the submission's files on the instructor's
  origin); anything else (a `<script>`, an `onerror=`, a `[link](javascript:...)`, an entity-
  encoded one, MathJax's `\\href`) turns the cell into a code block showing its text, inert;
  a raw cell that is not the release's is cleaned by bleach;
* notebook-level widget state (which nbconvert's HTML would hand to a widget loader that fetches
  code from a CDN) is dropped;
* a file handed in beside the notebook that a browser would run as a page (HTML, XHTML, SVG, XML)
  is removed from autograded/ once the kernel is done with it: formgrader serves that folder on
  the instructor's origin (/formgrader/submissions/<id>/page.html). It stays in submitted/, and
  the class report lists it.
Grading is unaffected: test cells are scored from their errors, which are kept.
"""
from __future__ import annotations

import mimetypes
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import bleach
import nbformat
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.coursedir import CourseDirectory
from traitlets import Bool

SAFE_TAGS = sorted(set(bleach.ALLOWED_TAGS) | {
    "p", "div", "span", "br", "hr", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "sub", "sup",
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "img", "dl", "dt", "dd",
    "u", "s", "del", "ins", "small", "kbd", "samp", "var", "mark", "details", "summary"})
SAFE_ATTRIBUTES = {
    "*": ["class", "title"],
    "a": ["href", "title"],
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "align"],
    "th": ["colspan", "rowspan", "align"],
    "table": ["border"],
    **{f"h{n}": ["id"] for n in range(1, 7)},  # the anchor nbconvert gives every heading
}
SAFE_SCHEMES = {"http", "https", "mailto"}  # images may also be relative and data:image
URL_ATTRIBUTES = {"href", "src"}
# A relative link would open a file of the submission's folder, which formgrader serves on the
# instructor's origin (/formgrader/submissions/<id>/page.html): links go elsewhere or in the page.
MATHJAX_LINKS = re.compile(r"\\(href|require|class|cssId|style)\b")
SHOWN_AS_TEXT = ("*The cell below held HTML, a link or a MathJax command that could run code in "
                 "the instructor's browser; the grader shows its text instead.*")


class SanitizeStudentHTML(SanitizeHTML):
    """nbconvert's SanitizeHTML for a graded notebook: the student's HTML is made inert, the
    instructor's cells of the release are left as they are."""

    # nbconvert's preprocessors are off unless enabled; listed in nbgrader_config.py, this one runs
    enabled = Bool(True, help="sanitize the graded notebook").tag(config=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        if "tags" not in kw:
            self.tags = SAFE_TAGS
        if "attributes" not in kw:
            self.attributes = is_safe_attribute

    def preprocess(self, nb, resources):
        self._instructors = _release_texts(self.config, resources)
        nb.metadata.pop("widgets", None)
        for path in remove_pages(*_folders(self.config, resources)):
            self.log.warning("%s: handed in %s, a page formgrader would serve on the instructor's "
                             "origin: removed from autograded/ (kept in submitted/)",
                             resources["nbgrader"]["student"], path)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type in ("markdown", "raw") and cell.source in self._instructors:
            return cell, resources
        if cell.cell_type == "markdown":
            if not is_inert_markdown(cell.source, cell.get("attachments")):
                cell.source = shown_as_text(cell.source)
                cell.pop("attachments", None)
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)

    def sanitize_code_outputs(self, outputs):
        for output in outputs:
            data = output.get("data", {})
            text = data.get("text/markdown")
            if text is not None and not is_inert_markdown(text):
                data["text/plain"] = text  # shown as text; the markdown is dropped
                del data["text/markdown"]
            for kind in ("text/html", "text/latex"):  # the page's MathJax typesets both
                if kind in data and MATHJAX_LINKS.search(_text(data[kind])):
                    data.setdefault("text/plain", _text(data[kind]))
                    del data[kind]
        return super().sanitize_code_outputs(outputs)


def _text(value) -> str:
    """An output's text (nbformat may keep it as a list of lines)."""
    return "".join(value) if isinstance(value, list) else str(value)


def is_safe_attribute(tag: str, name: str, value: str) -> bool:
    """May `tag` keep the attribute `name`="`value`" (value with its entities decoded)?"""
    allowed = set(SAFE_ATTRIBUTES.get("*", [])) | set(SAFE_ATTRIBUTES.get(tag, []))
    if name not in allowed:
        return False
    if name not in URL_ATTRIBUTES or not value:
        return True
    scheme = _scheme(value)
    if tag == "img":
        return not scheme or scheme in SAFE_SCHEMES or (
            value.startswith("data:image/") and not value.startswith("data:image/svg"))
    return scheme in SAFE_SCHEMES or value.strip().startswith("#")


def is_inert_markdown(source: str, attachments=None) -> bool:
    """True if `source`, rendered as formgrader and the feedback render markdown, holds only
    SAFE_TAGS with their SAFE_ATTRIBUTES and links of SAFE_SCHEMES (nothing that runs code)."""
    if MATHJAX_LINKS.search(source):
        return False
    try:
        rendered = MarkdownWithMath(renderer=IPythonRenderer(
            escape=False, attachments=attachments or {})).render(source)
    except Exception:  # a missing attachment, say: nbconvert could not show it either
        return False
    checker = _TagChecker()
    checker.feed(rendered)
    checker.close()
    return checker.inert


def shown_as_text(source: str) -> str:
    """Markdown that shows `source` verbatim in a fenced code block (escaped when rendered)."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    return f"{SHOWN_AS_TEXT}\n\n{fence}text\n{source}\n{fence}"


def _scheme(url: str) -> str:
    """A URL's scheme as a browser reads it (whitespace and control characters dropped), or ''."""
    cleaned = "".join(ch for ch in url if ord(ch) > 32 and ord(ch) != 127).lower()
    found = re.match(r"([a-z][a-z0-9+.\-]*):", cleaned)
    return found.group(1) if found else ""


class _TagChecker(HTMLParser):
    """Reads rendered HTML; `inert` turns False at the first tag, attribute or link scheme
    outside the safe lists."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.inert = True

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.inert = False
            return
        if not all(is_safe_attribute(tag, name, value or "") for name, value in attrs):
            self.inert = False

    handle_startendtag = handle_starttag


# what a browser runs as a document when formgrader's static handler serves the file (its content
# type is guessed from the name by the same mimetypes module)
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
                        "application/xml", "text/xsl", "application/xslt+xml"})


def remove_pages(folder: Path | None, instructors: Path | None = None) -> list[str]:
    """Remove from `folder` (a submission's autograded copy, plain files only) every file a
    browser would open as a page, except the instructor's own (the same path in `instructors`,
    the assignment's source folder); the removed paths, relative to `folder`."""
    removed: list[str] = []
    if folder is None or not folder.is_dir() or folder.is_symlink():
        return removed
    for current, folders, files in os.walk(folder):
        for name in sorted(files):
            path = Path(current) / name
            relative = path.relative_to(folder)
            if instructors is not None and (instructors / relative).is_file():
                continue
            if mimetypes.guess_type(name, strict=False)[0] in PAGE_TYPES:
                path.unlink()
                removed.append(str(relative))
    return removed


def _folders(config, resources) -> tuple[Path | None, Path | None]:
    """The submission's autograded folder and the assignment's source folder (None if unknown)."""
    info = (resources or {}).get("nbgrader", {})
    if not info.get("assignment") or not info.get("student"):
        return None, None
    coursedir = CourseDirectory(config=config)
    return (Path(coursedir.format_path(coursedir.autograded_directory, info["student"],
                                       info["assignment"])),
            Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"])))


def _release_texts(config, resources) -> set[str]:
    """The markdown and raw cells' sources of this notebook's release (none when unknown)."""
    info = (resources or {}).get("nbgrader", {})
    if not info.get("assignment") or not info.get("notebook"):
        return set()
    coursedir = CourseDirectory(config=config)
    path = Path(coursedir.format_path(coursedir.release_directory, ".", info["assignment"])) \
        / f"{info['notebook']}.ipynb"
    try:
        release = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return set()
    return {c.source for c in release.cells if c.cell_type in ("markdown", "raw")}
