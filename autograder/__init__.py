"""The instructor's side of the course: grades a class with nbgrader, keeps grading safe, tells
students and instructors the results, and holds the tools that prove the hidden tests catch real
mistakes. It never ships to students.

One sub-package per job, lowest first; a package imports only the ones listed before it and the
helpers at this level (`notebooks`, `nbgrader_cli`):

    kernels    starting and talking to Jupyter kernels (started ahead, polled in slices)
    safety     the sandbox, tamper detection and flags, duplicated cells
    grading    grading a class: workers, ledger, gradebook, submissions, instant grading
    reports    what people read: the class's reports and the students' feedback
    students   the students' side: their repository, Binder links, the README's notebook table
    hub        the course on a JupyterHub: grading service, private submissions, nbgitpuller links
    authoring  the course author's tools: mutation harness and catalogs, release, the demo class
    ner        04's reference window tagger on real CoNLL data (needs none of the others)

`cli` (`python -m autograder`) sits on top and may import any of them.
"""
