-- kb-assistant schema for the postgres backend (applied by `kb db migrate`).
-- One live copy of the index: a re-index changes it in one transaction, so readers see the
-- old index or the new one, never a mix. Vectors are pgvector columns; the HNSW index is
-- created by the first write, once the model's dimension is known.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE kb_state (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    index_version text NOT NULL,
    model text NOT NULL,
    model_fingerprint text NOT NULL,
    dimension integer NOT NULL,
    chunker jsonb NOT NULL,
    counts jsonb NOT NULL,
    sources jsonb NOT NULL,
    build_seconds double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    avg_terms double precision NOT NULL
);

CREATE TABLE kb_documents (
    doc_id text PRIMARY KEY,
    title text NOT NULL,
    source text NOT NULL,
    format text NOT NULL,
    text text NOT NULL,
    metadata jsonb NOT NULL,
    sections jsonb NOT NULL,
    pages jsonb NOT NULL,
    content_hash text NOT NULL
);

CREATE TABLE kb_chunks (
    chunk_id text PRIMARY KEY,
    doc_id text NOT NULL REFERENCES kb_documents (doc_id) ON DELETE CASCADE,
    ordinal integer NOT NULL,
    start integer NOT NULL,
    "end" integer NOT NULL,
    pages jsonb NOT NULL,
    heading_path jsonb NOT NULL,
    text text NOT NULL,
    embed_text text NOT NULL,
    n_terms integer NOT NULL,
    embedding vector NOT NULL
);
CREATE INDEX kb_chunks_doc ON kb_chunks (doc_id, ordinal);

-- BM25 postings: the same tokens as the local backend's bm25s index (indexer/lexical.py).
CREATE TABLE kb_postings (
    term text NOT NULL,
    chunk_id text NOT NULL REFERENCES kb_chunks (chunk_id) ON DELETE CASCADE,
    tf integer NOT NULL,
    PRIMARY KEY (term, chunk_id)
);
CREATE INDEX kb_postings_chunk ON kb_postings (chunk_id);

CREATE TABLE kb_windows (
    chunk_id text NOT NULL REFERENCES kb_chunks (chunk_id) ON DELETE CASCADE,
    start integer NOT NULL,
    "end" integer NOT NULL,
    embedding vector NOT NULL
);
CREATE INDEX kb_windows_chunk ON kb_windows (chunk_id);

CREATE TABLE kb_skipped (path text NOT NULL, reason text NOT NULL);
