"""A notebook with a duplicated cell must not stop `nbgrader autograde` (jupyter/nbgrader#1083).

nbgrader's DeduplicateIds keeps the first cell of each grade id and empties the metadata of the
others to `{}`, which nbgrader then takes for an old metadata format: the student's autograde
fails (scored 0) and plain `nbgrader autograde` exits with an error. `DropDuplicateGradeIds`
removes the copy's nbgrader metadata altogether, so the copy runs as an ordinary code cell and
the notebook is graded on its first occurrence of each cell. nbgrader_config.py puts it in place
of DeduplicateIds; autograder/safety/tamper.py flags the duplicate for a person.
"""
from nbgrader import utils
from nbgrader.preprocessors import DeduplicateIds


class DropDuplicateGradeIds(DeduplicateIds):

    def preprocess_cell(self, cell, resources, cell_index):
        if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_locked(cell)):
            return cell, resources
        gid = cell.metadata.nbgrader.get("grade_id")
        if gid in self.grade_ids:
            self.log.warning("Cell with id '%s' exists multiple times: the copy is graded as "
                             "an ordinary cell", gid)
            del cell.metadata["nbgrader"]
        else:
            self.grade_ids.add(gid)
        return cell, resources
