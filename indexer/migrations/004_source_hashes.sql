-- Each file's source hash (indexer.loaders.source_hash: its bytes, sidecar, path, parse limits
-- and loader version), so a one-shot `kb index` takes an unchanged file's document, or the
-- reason it was skipped, from the database instead of parsing it again. Rows written before
-- this have '' and are filled in by the next `kb index`.
ALTER TABLE kb_documents ADD COLUMN source_hash text NOT NULL DEFAULT '';
ALTER TABLE kb_skipped ADD COLUMN source_hash text NOT NULL DEFAULT '';
