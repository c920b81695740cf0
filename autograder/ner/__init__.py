"""04_window_ner's reference model: the window tagger, its entity-level metrics and the command
that trains it on real CoNLL-2003 files. Stands alone: imports no other package of the course's
grader (it uses `course` for reading CoNLL)."""
