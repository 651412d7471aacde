-- The AI log, PostgreSQL dialect (same logical schema as ../sqlite/0005_ai_log.sql). The record
-- format, the hashes and the verifier live in the prepazka-ailog crate, the design in
-- docs/AI_LOG.md. Records and checkpoints are append-only: triggers refuse every UPDATE, DELETE
-- and TRUNCATE, and the database itself refuses a seq that does not follow the last one. The
-- only part that may be deleted is a session's data key (erasure): the records keep verifying,
-- their texts become unreadable. Deployments should also REVOKE UPDATE, DELETE, TRUNCATE on the
-- two append-only tables from the application's role (docs/AI_LOG.md, "The database").

-- One row per record, `seq` from 0 and gap-free (the Merkle leaf index). `record` holds the
-- canonical bytes exactly as hashed, `leaf_hash` is SHA-256(0x00 || record). `session_id`, `kind`
-- and `created_at` (milliseconds, UTC) are copies for queries, checked against `record` by the
-- verifier.
CREATE TABLE ai_log_records (
    seq         BIGINT NOT NULL CHECK (seq >= 0),
    record      BYTEA NOT NULL,
    leaf_hash   BYTEA NOT NULL CHECK (length(leaf_hash) = 32),
    session_id  TEXT,
    kind        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT ai_log_records_pkey PRIMARY KEY (seq)
);
CREATE INDEX ai_log_records_session ON ai_log_records (session_id, seq) WHERE session_id IS NOT NULL;

CREATE FUNCTION ai_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'ai_log is append-only'; END $$;
CREATE FUNCTION ai_log_records_gap_free() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.seq <> (SELECT COALESCE(MAX(seq) + 1, 0) FROM ai_log_records) THEN RAISE EXCEPTION 'ai_log seq must follow the last record'; END IF; RETURN NEW; END $$;
CREATE TRIGGER ai_log_records_gap_free BEFORE INSERT ON ai_log_records FOR EACH ROW EXECUTE FUNCTION ai_log_records_gap_free();
CREATE TRIGGER ai_log_records_append_only BEFORE UPDATE OR DELETE ON ai_log_records FOR EACH ROW EXECUTE FUNCTION ai_log_append_only();
CREATE TRIGGER ai_log_records_no_truncate BEFORE TRUNCATE ON ai_log_records FOR EACH STATEMENT EXECUTE FUNCTION ai_log_append_only();

-- Signed checkpoints (tree heads). `line` is the witness-file line, signature included: the
-- verifier reads only it. `root_hash` and `signed_at` (milliseconds, UTC) are copies for queries.
-- A checkpoint is written only when the log grew since the last one, never beyond the records.
CREATE TABLE ai_log_checkpoints (
    tree_size   BIGINT NOT NULL CHECK (tree_size >= 0),
    root_hash   BYTEA NOT NULL CHECK (length(root_hash) = 32),
    signed_at   BIGINT NOT NULL,
    line        TEXT NOT NULL,
    CONSTRAINT ai_log_checkpoints_pkey PRIMARY KEY (tree_size)
);
CREATE FUNCTION ai_log_checkpoints_grow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.tree_size <= (SELECT COALESCE(MAX(tree_size), -1) FROM ai_log_checkpoints) OR NEW.tree_size > (SELECT COALESCE(MAX(seq) + 1, 0) FROM ai_log_records) THEN RAISE EXCEPTION 'ai_log checkpoint must grow and stay within the records'; END IF; RETURN NEW; END $$;
CREATE TRIGGER ai_log_checkpoints_grow BEFORE INSERT ON ai_log_checkpoints FOR EACH ROW EXECUTE FUNCTION ai_log_checkpoints_grow();
CREATE TRIGGER ai_log_checkpoints_append_only BEFORE UPDATE OR DELETE ON ai_log_checkpoints FOR EACH ROW EXECUTE FUNCTION ai_log_append_only();
CREATE TRIGGER ai_log_checkpoints_no_truncate BEFORE TRUNCATE ON ai_log_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION ai_log_append_only();

-- The erasable part: one data key per interpreting session, wrapped (AES-256-GCM) under the key
-- encryption key kept outside the database. Deleting the row erases the session's texts. A key
-- under legal hold (an appeal, an incident, an authority's request) cannot be deleted.
CREATE TABLE ai_log_data_keys (
    session_id   TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    wrapped_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    legal_hold   BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT ai_log_data_keys_pkey PRIMARY KEY (session_id)
);
CREATE FUNCTION ai_log_data_keys_held() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF OLD.legal_hold THEN RAISE EXCEPTION 'ai_log data key is under legal hold'; END IF; RETURN OLD; END $$;
CREATE TRIGGER ai_log_data_keys_held BEFORE DELETE ON ai_log_data_keys FOR EACH ROW EXECUTE FUNCTION ai_log_data_keys_held();
