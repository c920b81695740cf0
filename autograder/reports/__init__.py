"""What the instructor and the students read after grading: the class's reports (CSV files, the
LMS imports, the HTML page, the terminal table; `class_report`) and feedback without hidden tests
(`feedback`), all read from nbgrader's gradebook. May import `grading`, `safety`, `kernels` and the
top-level helpers; never students, hub or the authoring tools."""
