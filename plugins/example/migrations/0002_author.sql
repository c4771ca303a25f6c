-- example 0002: every note belongs to the staff member who wrote it, and
-- only they can read it. Notes written before authors were recorded have
-- none, so nobody can read them: the safe reading of "unknown owner".
ALTER TABLE notes ADD COLUMN author_staff_id bigint REFERENCES core.staff;
CREATE INDEX notes_author ON notes (author_staff_id, id);
