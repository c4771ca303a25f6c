-- The core schema's foundation: one row that names this Waymark instance.
-- Runs with search_path = core, public, inside the migration's transaction.

-- A singleton: `one` can only be true and is unique, so a second row fails.
CREATE TABLE instance (
	id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	one boolean NOT NULL DEFAULT true UNIQUE CHECK (one),
	created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO instance DEFAULT VALUES;
