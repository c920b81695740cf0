# The course's verbs. `make help` lists them. Everything runs inside .venv, created on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
STAMP := $(VENV)/.installed
# nbgrader shells out to `alembic`, so the venv's bin/ must come first on PATH.
export PATH := $(VENV)/bin:$(PATH)
export MPLBACKEND ?= Agg

ASSIGNMENTS := $(notdir $(wildcard source/[0-9][0-9]_*))

.PHONY: help install sandbox test demo release autograde feedback lab bench readme student-repo clean reset distclean

help:  ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

install: $(STAMP)  ## create .venv and install the instructor's pinned set (once; REQUIREMENTS=requirements/grading.txt: grading only)

# The instructor's set: grading, and the tests and the hub (`make test` needs them all). A grading
# machine can take requirements/grading.txt alone; students get requirements/student.txt (Binder).
REQUIREMENTS ?= requirements.txt
$(STAMP): requirements.txt $(wildcard requirements/*.txt) pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# Graded kernels run in a bubblewrap sandbox (autograder/safety/sandbox.py): Debian's package, installed once.
BWRAP := /usr/bin/bwrap
sandbox: $(BWRAP)  ## install bubblewrap, which sandboxes every graded kernel (once; needs root)
$(BWRAP):
	apt-get install -y -qq -o DPkg::Lock::Timeout=300 bubblewrap >/dev/null \
	  || (apt-get update -qq -o DPkg::Lock::Timeout=300 \
	      && apt-get install -y -qq -o DPkg::Lock::Timeout=300 bubblewrap >/dev/null)

test: $(STAMP) $(BWRAP)  ## run the whole test suite
	$(VENV)/bin/python -m pytest

demo: $(STAMP) $(BWRAP)  ## grade a simulated class end to end in demo/ (its own course and gradebook; ARGS=01_gradients)
	$(VENV)/bin/python -m autograder.authoring.demo --course $(CURDIR) $(ARGS)

release: $(STAMP)  ## regenerate release/ from source/ with nbgrader
	$(VENV)/bin/python -m autograder.authoring.release $(ASSIGNMENTS)

autograde: $(STAMP) $(BWRAP)  ## grade submitted/ in parallel (resumable; WORKERS=N, ARGS="--shard 0/2 ..."), write reports/
	$(VENV)/bin/python -m autograder autograde $(if $(WORKERS),--workers $(WORKERS)) $(ARGS)

feedback: $(STAMP)  ## write feedback HTML (hidden tests and their tracebacks left out) into feedback/
	$(VENV)/bin/python -m autograder feedback $(ARGS)

lab: $(STAMP)  ## open JupyterLab on the course
	$(VENV)/bin/jupyter lab --notebook-dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: $(STAMP)  ## run the benchmarks and record their results in bench/results/
	$(VENV)/bin/python -m bench

readme: $(STAMP)  ## rewrite the README's notebook table from the notebooks and [tool.course] in pyproject.toml
	$(VENV)/bin/python -m autograder.students.notebook_table

STUDENT_REPO ?= $(CURDIR)/student-repo
student-repo: $(STAMP)  ## write the students' repository (release notebooks, course, Binder files) into STUDENT_REPO
	$(VENV)/bin/python -m autograder.students.repo $(STUDENT_REPO)

# What the demo and the builds made: never a grade. (Grades live in GRADES below.)
clean:  ## remove what the demo and the builds made (demo/, caches); never a grade
	rm -rf demo .demo .pytest_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# The real course's grades and everything derived from them.
GRADES := gradebook.db gradebook.db-journal gradebook.db-wal gradebook.db-shm gradebook.db.prepare-lock submitted autograded \
          feedback exchange .autograder reports grades.csv flags.csv
reset:  ## DELETE the course's grades (gradebook, submissions, feedback, exchange): needs CONFIRM=yes
	@found="$$(for f in $(GRADES); do test -e "$$f" && echo "$$f"; done)"; \
	if [ -z "$$found" ]; then echo "reset: no grades here, nothing to delete"; exit 0; fi; \
	echo "reset deletes the course's grades and submissions in $(CURDIR):"; \
	for f in $$found; do \
	  if [ -d "$$f" ]; then echo "  $$f/ ($$(find "$$f" -type f | wc -l) files)"; \
	  else echo "  $$f ($$(du -h "$$f" | cut -f1))"; fi; \
	done; \
	if [ "$(CONFIRM)" != "yes" ]; then \
	  echo "nothing deleted: run \`make reset CONFIRM=yes\` to delete them (copy gradebook.db first?)"; \
	  exit 1; \
	fi; \
	rm -rf $$found && echo "deleted."

distclean: clean  ## also remove .venv (never a grade)
	rm -rf $(VENV)
