"""What the course's notebooks import: assertion helpers for tests, plots and widgets.

Students have this package. It holds nothing that gives an exercise's answer away.
"""
