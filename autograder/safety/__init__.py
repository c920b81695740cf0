"""Keeping grading safe from what a submission does: every graded kernel in a bubblewrap sandbox
(`sandbox`), edits and tricks flagged for a person (`tamper`, `flags`), a duplicated cell that
cannot stop autograde (`duplicates`). May import `kernels` and the top-level helpers; never
grading, reports or anything above."""
