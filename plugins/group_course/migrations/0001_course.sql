-- group_course 0001: the course model (modules live in the programme's
-- settings; see plugins/group_course/README.md).
CREATE TABLE schema_note (note text);
