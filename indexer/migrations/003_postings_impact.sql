-- BM25 candidates without reading every posting of a common term: each posting carries its
-- document, length and a precomputed term-frequency weight (BM25's tf part at the corpus's
-- mean length when written), and an index lists a term's postings best-weight first. A search
-- reads the top postings of each query term, then scores its candidates exactly.
ALTER TABLE kb_postings
    ADD COLUMN doc_id text,
    ADD COLUMN n_terms integer,
    ADD COLUMN weight real;
UPDATE kb_postings p
SET doc_id = c.doc_id,
    n_terms = c.n_terms,
    weight = p.tf / (p.tf + 1.5 * (0.25 + 0.75 * c.n_terms / greatest(s.mean, 1)))
FROM kb_chunks c, (SELECT coalesce(avg(n_terms), 1) AS mean FROM kb_chunks) s
WHERE c.chunk_id = p.chunk_id;
ALTER TABLE kb_postings
    ALTER COLUMN doc_id SET NOT NULL,
    ALTER COLUMN n_terms SET NOT NULL,
    ALTER COLUMN weight SET NOT NULL;
CREATE INDEX kb_postings_impact ON kb_postings (term, weight DESC) INCLUDE (chunk_id, doc_id, tf, n_terms);
