"""Drive one notebook in JupyterLab the way a student does: Run All, move the widgets, Validate.

Every wait is on something the page shows (cell prompts, rendered widgets, the saved state, the
Validate dialog), bounded by a timeout; no fixed sleeps.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from playwright.sync_api import TimeoutError as PlaywrightTimeout

# The controls a student can move, type into or press (ipywidgets 8 class names).
CONTROLS = (".widget-slider, .widget-dropdown, .widget-text, .widget-textarea, .widget-button, "
            ".widget-checkbox, .widget-toggle-button, .widget-toggle-buttons, .widget-radio, "
            ".widget-select, .widget-select-multiple, .widget-play")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
# The notebook in the tab on show (JupyterLab keeps other open notebooks in the page, hidden).
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
NB = PANEL + " .jp-Notebook"

_JS_PROMPTS = """() => Array.from(document.querySelectorAll('__NB__ .jp-Cell'))
    .map(c => c.classList.contains('jp-CodeCell')
         ? c.querySelector('.jp-InputPrompt').textContent.trim() : null)"""

# What a cell's output shows, without its controls (a slider's readout moves with the slider;
# what must change is the picture or text the control drives).
_JS_OUTPUT_SIGNATURE = """([index, controls]) => {
    const cell = document.querySelectorAll('__NB__ .jp-Cell')[index];
    const out = cell.querySelector('.jp-OutputArea');
    if (!out) return '';
    const clone = out.cloneNode(true);
    clone.querySelectorAll(controls).forEach(e => e.remove());
    return clone.innerHTML;
}"""

_JS_KERNEL_IDLE = """() => document.querySelector(
        '__PANEL__ .jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'
    && /\\| Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.textContent || '')"""

# Indices of the cells that show a widget view (ipywidgets puts it straight into the output).
_JS_WIDGET_CELLS = """() => Array.from(document.querySelectorAll('__NB__ .jp-Cell'))
    .map((c, i) => c.querySelector('.jp-OutputArea-output > .jupyter-widgets') ? i : -1)
    .filter(i => i >= 0)"""

# What JupyterLab's notebook commands check before they are enabled: the active cell, the other
# selected cells, the current tab (the one with the focus).
_JS_SELECTION_STATE = """() => {
    const cells = Array.from(document.querySelectorAll('__NB__ .jp-Cell'));
    return {active: cells.findIndex(c => c.classList.contains('jp-mod-active')),
            selected: cells.map((c, i) => c.classList.contains('jp-mod-selected') ? i : -1)
                           .filter(i => i >= 0),
            cells: cells.length,
            current: document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current')
                         ?.textContent || ''};
}"""

_JS_WIDGET_ERRORS = """() => Array.from(document.querySelectorAll('__NB__ .jp-Cell'))
    .map((c, i) => /Error displaying widget|Loading widget/
        .test(c.querySelector('.jp-OutputArea')?.textContent || '') ? i : -1)
    .filter(i => i >= 0)"""


@dataclass
class Interaction:
    cell: int
    control: str          # e.g. "slider 'learning rate η'"
    changed: bool
    seconds: float


@dataclass
class RunReport:
    rounds: int = 0       # Run All, then one "Run Selected Cell and All Below" per error
    seconds: float = 0.0


class NotebookInLab:
    """One notebook opened in a JupyterLab page. `path` is relative to the server's root."""

    def __init__(self, page, lab, path: str, timeout_s: float = 90):
        self.page, self.lab, self.path = page, lab, path
        self.timeout_ms = timeout_s * 1000
        self.file = Path(lab.root_dir) / path

    @staticmethod
    def _js(code: str) -> str:
        """Scripts name the notebook on show as __NB__ and its panel as __PANEL__."""
        return code.replace("__NB__", NB).replace("__PANEL__", PANEL)

    def _evaluate(self, code, arg=None):
        return self.page.evaluate(self._js(code), arg)

    def _wait_for(self, code, arg=None, timeout=None):
        return self.page.wait_for_function(self._js(code), arg=arg,
                                           timeout=timeout or self.timeout_ms)

    # --- opening and running ---------------------------------------------------------------

    def open(self):
        """Open the notebook: by its URL in a fresh page, or with File > Open from Path... in a
        page that already shows JupyterLab (much faster than loading JupyterLab again)."""
        if self.page.locator("#jp-main-dock-panel").count() == 0:
            self.page.goto(self.lab.url(self.path))
        else:
            self._menu("File", "filebrowser:open-path")
            box = self.page.locator(".jp-Dialog input")
            box.fill(self.path)
            box.press("Enter")
        name = Path(self.path).name
        self.page.locator(f'.lm-TabBar-tab.jp-mod-current:has-text("{name}")').wait_for(
            timeout=self.timeout_ms)
        # The panel shows one empty cell until the file is loaded: wait for all of them.
        cells = len(nbformat.read(str(self.file), as_version=4).cells)
        self._wait_for(f"() => document.querySelectorAll('__NB__ .jp-Cell').length === {cells}")
        self.wait_kernel_idle()
        return self

    def close(self):
        """Close the tab (saved before) and shut its kernel down."""
        self._menu("File", "application:close")
        self.lab.shutdown_kernels()

    def prompts(self) -> list:
        return self._evaluate(_JS_PROMPTS)

    def _menu(self, menu: str, command: str):
        self.page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
        item = self.page.locator(f'.lm-Menu-item[data-command="{command}"]')
        item.wait_for(timeout=self.timeout_ms)
        if "lm-mod-disabled" in (item.get_attribute("class") or ""):
            # Clicking would wait for an item that JupyterLab enables only when the state changes:
            # say at once which state it refused.
            state = self._evaluate(_JS_SELECTION_STATE)
            self.page.keyboard.press("Escape")
            raise AssertionError(f"{self.path}: {menu} > {command} is disabled; {state}")
        item.click()

    def _wait_until_run_from(self, start: int) -> bool:
        """Wait until cell `start` has run and nothing is queued or running: True; or until
        the kernel aborted the run (cell `start` shows [ ]: again, nothing queued): False."""
        try:
            handle = self._wait_for(
                f"""() => {{
                    const p = ({_JS_PROMPTS})();
                    if (p.some(x => x === '[*]:')) return false;
                    if (/^\\[\\d+\\]:$/.test(p[{start}])) return 'done';
                    return p[{start}] === '[ ]:' ? 'aborted' : false;
                }}""")
        except PlaywrightTimeout as exc:  # say where it stopped
            prompts = {i: p for i, p in enumerate(self.prompts()) if p is not None}
            raise AssertionError(f"{self.path}: cells did not finish running from cell {start} "
                                 f"within {self.timeout_ms / 1000:.0f} s; prompts: {prompts}") from exc
        return handle.json_value() == "done"

    def _select(self, index: int):
        """Make cell `index` the active and only selected cell, in the notebook tab that has the
        focus, by clicking its prompt (again, if a re-layout moved another cell under the
        pointer). That is what "Run Selected Cell and All Below" needs to be enabled: JupyterLab
        disables it while other cells are selected too (a click that lands while a re-layout
        moves the cells can select a range) or while another tab is current."""
        name = json.dumps(Path(self.path).name)
        check = (f"() => {{ const s = ({_JS_SELECTION_STATE})(); return s.active === {index} "
                 f"&& s.selected.every(i => i === {index}) && s.current.includes({name}); }}")
        for _ in range(3):
            self.page.locator(NB + " .jp-Cell").nth(index).locator(".jp-InputPrompt").click()
            try:
                self._wait_for(check, timeout=5_000)
                return
            except PlaywrightTimeout:
                continue
        raise AssertionError(f"{self.path}: could not select cell {index} alone; "
                             f"{self._evaluate(_JS_SELECTION_STATE)}")

    def _run_from(self, command: str, start: int):
        """Run > `command`, which runs from cell `start`; then wait until it is done. JupyterLab
        marks queued cells [*] at once: if cell `start` is not marked, the menu click was lost
        and is made once more. ipykernel 7 aborts a request that reaches it just after an error,
        before its shell thread has posted the end of the abort (ipykernel's
        `_abort_queues`); JupyterLab then shows the cell [ ]: again, and the run is asked for
        again, as a student would click Run once more."""
        started = f"() => ({_JS_PROMPTS})()[{start}] !== '[ ]:'"
        for _ in range(3):
            for attempt in range(2):
                self._click_run(command, start)
                try:
                    self._wait_for(started, timeout=20_000)
                    break
                except PlaywrightTimeout:
                    if attempt:
                        raise AssertionError(f"{self.path}: Run > {command} did not start "
                                             f"cell {start}")
            if self._wait_until_run_from(start):
                return
        raise AssertionError(f"{self.path}: the kernel aborted Run > {command} from cell {start} "
                             "three times")

    def _click_run(self, command: str, start: int):
        """Run > `command` with cell `start` selected. JupyterLab moves the active cell (to the
        failed cell, or the last one) when a run's promise settles, which on a loaded machine can
        come after the kernel's reply was shown and after the selection was made for the next
        run: "Run Selected Cell and All Below" is then disabled (the last cell), so select again
        and retry."""
        if command == "runmenu:run-all":
            self._menu("Run", command)
            return
        for attempt in range(3):
            self.wait_kernel_idle()
            self._select(start)
            try:
                self._menu("Run", command)
                return
            except AssertionError:
                if attempt == 2:
                    raise
                self.page.wait_for_timeout(1_000)

    def run_all(self) -> RunReport:
        """Run > Run All Cells. JupyterLab stops at the first error, as it does for a student;
        then the next cell is selected and Run > Run Selected Cell and All Below continues (Run >
        Run Selected Cell for the last cell), until every code cell has run."""
        report, started = RunReport(), time.monotonic()
        prompts = self.prompts()
        code = [i for i, p in enumerate(prompts) if p is not None]
        self._run_from("runmenu:run-all", code[0])
        report.rounds = 1
        while True:
            prompts = self.prompts()
            not_run = [i for i in code if prompts[i] == "[ ]:"]
            if not not_run:
                break
            assert report.rounds <= len(code), f"Run All did not get through: {prompts}"
            # JupyterLab disables "Run Selected Cell and All Below" on the notebook's last cell
            # (a last cell left unrun when the cell before it failed): run that one alone.
            last = not_run[0] == len(prompts) - 1
            self._run_from("notebook:run-cell" if last else "notebook:run-all-below", not_run[0])
            report.rounds += 1
        report.seconds = time.monotonic() - started
        return report

    # --- what the page shows ---------------------------------------------------------------

    def widget_cells(self) -> list[int]:
        """Indices of the cells that display a widget."""
        return self._evaluate(_JS_WIDGET_CELLS)

    def wait_widgets_rendered(self, expected: list[int]) -> list[int]:
        """Wait until every cell in `expected` (those whose saved outputs hold a widget view)
        shows its widget; return the cells that show an ipywidgets error instead."""
        self._wait_for(f"() => {json.dumps(sorted(expected))}.every(i => ({_JS_WIDGET_CELLS})().includes(i))")
        return self._evaluate(_JS_WIDGET_ERRORS)

    def image_cells(self) -> list[int]:
        """Indices of the cells showing at least one loaded image (a matplotlib figure)."""
        return self._evaluate("""() => Array.from(document.querySelectorAll('__NB__ .jp-Cell'))
            .map((c, i) => Array.from(c.querySelectorAll('.jp-OutputArea img'))
                              .some(img => img.complete && img.naturalWidth > 0) ? i : -1)
            .filter(i => i >= 0)""")

    def output_signature(self, index: int) -> str:
        return self._evaluate(_JS_OUTPUT_SIGNATURE, [index, CONTROLS])

    def controls(self, index: int) -> list[tuple[str, str, int]]:
        """(kind, label, n) of each control in cell `index`; n numbers controls of one kind."""
        return self._evaluate("""([index, controls]) => {
            const cell = document.querySelectorAll('__NB__ .jp-Cell')[index];
            const seen = {};
            return Array.from(cell.querySelectorAll(controls)).map(el => {
                const kind = ['slider', 'dropdown', 'textarea', 'text', 'button', 'checkbox',
                              'toggle-buttons', 'toggle-button', 'radio', 'select-multiple',
                              'select', 'play'].find(k => el.classList.contains('widget-' + k));
                seen[kind] = (seen[kind] || 0) + 1;
                const label = (el.querySelector('.widget-label') || el).textContent.trim();
                return [kind, label.slice(0, 60), seen[kind] - 1];
            });
        }""", [index, CONTROLS])

    def _act(self, control, kind: str):
        """Move, type into or press one control the way a person would."""
        if kind == "slider":
            handle = control.locator(".noUi-handle").first
            handle.focus()
            handle.press("ArrowRight")
            handle.press("ArrowRight")
        elif kind == "dropdown" or kind == "select":
            select = control.locator("select")
            options = select.locator("option").all_inner_texts()
            current = select.evaluate("s => s.options[s.selectedIndex]?.text")
            choice = next(o for o in options if o != current)
            select.select_option(label=choice)
        elif kind in ("text", "textarea"):
            box = control.locator("input, textarea").first
            value = box.input_value()
            kind_of_input = box.get_attribute("type")
            new = str(float(value or 0) + 1) if kind_of_input == "number" else value + "x"
            box.fill(new)
            box.press("Enter")
        elif kind in ("button", "toggle-button"):
            control.click()
        elif kind == "checkbox":
            control.locator("input").click()
        elif kind in ("toggle-buttons", "radio"):
            control.locator("button:not(.mod-active), input:not(:checked)").first.click()
        else:
            raise AssertionError(f"the browser test does not know how to use a {kind} widget")

    def interact(self, index: int, wait_s: float = 20) -> list[Interaction]:
        """Use every control of cell `index` in turn; record whether the output changed."""
        results = []
        cell = self.page.locator(NB + " .jp-Cell").nth(index)
        for kind, label, n in self.controls(index):
            control = cell.locator(f".widget-{kind}").nth(n)
            control.scroll_into_view_if_needed()
            before, started = self.output_signature(index), time.monotonic()
            self._act(control, kind)
            try:
                self._wait_for(
                    f"([index, controls, before]) => ({_JS_OUTPUT_SIGNATURE})([index, controls]) !== before",
                    arg=[index, CONTROLS, before], timeout=wait_s * 1000)
                changed = True
            except PlaywrightTimeout:  # reported as "changed nothing"
                changed = False
            # Let the kernel finish drawing before the next control moves.
            self.wait_kernel_idle()
            results.append(Interaction(index, f"{kind} {label!r}", changed,
                                       round(time.monotonic() - started, 2)))
        return results

    def wait_kernel_idle(self):
        """Wait until the kernel of the notebook on show is started and idle."""
        self._wait_for(_JS_KERNEL_IDLE)

    # --- saving, reading back, Validate -------------------------------------------------------

    def save(self) -> nbformat.NotebookNode:
        """Save from the page (Ctrl+S) and return the notebook as written to disk."""
        self.page.locator(f'{PANEL} .jp-NotebookPanel-toolbar [data-command="docmanager:save"]').click()
        self._wait_for(
            "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
            timeout=self.timeout_ms)
        return nbformat.read(str(self.file), as_version=4)

    def validate(self) -> dict:
        """Press nbgrader's Validate button; return the dialog's outcome and text, then close it."""
        self.page.locator(f"{PANEL} .jp-NotebookPanel-toolbar .validate-button").click()
        dialog = self.page.locator(".jp-Dialog:has(#validation-message)")
        dialog.wait_for(timeout=self.timeout_ms)
        message = dialog.locator("#validation-message")
        classes = message.get_attribute("class") or ""
        outcome = next((c.removeprefix("validation-") for c in classes.split()
                        if c.startswith("validation-")), "error")
        result = {"outcome": outcome, "text": message.inner_text(),
                  "failed": message.locator("p", has_text="The following cell failed").count()}
        dialog.locator(".jp-Dialog-button").last.click()
        dialog.wait_for(state="detached", timeout=self.timeout_ms)
        return result

    def screenshot(self, path: Path, max_height: int = 30000):
        """The whole notebook in one picture: the window grows to the notebook's height."""
        outer = "document.querySelector('__NB__.jp-WindowedPanel-outer, __NB__ .jp-WindowedPanel-outer')"
        height = self._evaluate(f"() => {outer}.scrollHeight")
        size = self.page.viewport_size
        self.page.set_viewport_size({"width": size["width"], "height": min(height + 200, max_height)})
        try:
            if height + 200 <= max_height:  # JupyterLab lays the panel out again for the new size
                self._wait_for(f"() => {outer}.clientHeight + 2 >= {height}")
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(size)
