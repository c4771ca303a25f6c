-- example 0001: the notes table of the example plugin.
-- Runs with search_path set to the plugin's schema (example), so the table
-- lands in example.notes; queries in example.c qualify it in full because
-- at request time the search_path is the pool's, not this one.
-- A released migration is never edited: add 0002_<what>.sql instead.

CREATE TABLE notes (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- The same bound the route checks, so no other writer can break it.
	body text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 500),
	created_at timestamptz NOT NULL DEFAULT now()
);
