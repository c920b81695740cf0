"""The instructor's side of the course: drives nbgrader over a class, grades batches without losing
a grade, writes reports, and holds the mutation catalog that proves the hidden tests catch real
mistakes. It never ships to students."""
