"""The students' side: their repository (release notebooks, course package, Binder files), the
links into it and the README's table of notebooks. May import the packages below it (reports,
grading, safety, kernels) and the top-level helpers; never hub or the authoring tools."""
