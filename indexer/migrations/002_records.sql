-- Operational records beside the index, so every API replica shares one source of truth:
-- the query log and feedback (insights/querylog.py), hashed API keys (api/security.py) and
-- access-group overrides set by `kb access` (indexer/access.py). The first three have the
-- same columns as their SQLite files; `rowid` keeps insertion order as SQLite's does.

CREATE TABLE searches (
    rowid bigint GENERATED ALWAYS AS IDENTITY,
    search_id text PRIMARY KEY,
    ts text NOT NULL,
    query text NOT NULL,
    filters text NOT NULL,
    as_of text,
    mode text,
    answerable integer NOT NULL,
    reason text,
    confidence double precision,
    top_score double precision,
    n_results integer NOT NULL,
    results text NOT NULL,
    took_ms double precision,
    index_version text
);
CREATE INDEX searches_ts ON searches (ts, rowid);

CREATE TABLE feedback (
    rowid bigint GENERATED ALWAYS AS IDENTITY,
    feedback_id text PRIMARY KEY,
    ts text NOT NULL,
    search_id text NOT NULL REFERENCES searches (search_id),
    chunk_id text,
    doc_id text,
    rating text NOT NULL,
    comment text NOT NULL DEFAULT ''
);
CREATE INDEX feedback_search ON feedback (search_id);

CREATE TABLE keys (
    key_id text PRIMARY KEY,
    digest text UNIQUE,
    role text NOT NULL,
    groups text,
    created_at text NOT NULL,
    revoked integer NOT NULL DEFAULT 0
);

-- Access groups that replace a document's own metadata without a re-index; they outlive
-- re-indexing. Readers notice a change by kb_access_version, bumped in the same transaction.
CREATE TABLE kb_access (
    doc_id text PRIMARY KEY,
    groups jsonb NOT NULL
);
CREATE TABLE kb_access_version (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint NOT NULL
);
INSERT INTO kb_access_version (id, version) VALUES (true, 0);
