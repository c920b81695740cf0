"""The course on a JupyterHub: the root grading service instructors call, submissions private to
their student, and nbgitpuller links. May import `students` and everything below it; never the
authoring tools."""
