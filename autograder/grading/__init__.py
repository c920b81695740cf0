"""Grading a class with nbgrader: parallel workers that never lose a grade (`batch`, `workers`),
the resumable ledger, the gradebook's locking, finding each student's submission, and instant
grading of one notebook. May import `kernels`, `safety` and the top-level helpers; never
reports, students, hub or the authoring tools."""
