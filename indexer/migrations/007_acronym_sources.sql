-- Which documents define each short form ({short: {"defined": [[long form, doc id, count]],
-- "lower": [doc ids]}}, indexer/acronyms.py), so a search spells out only what the documents
-- the caller may see define. NULL until the next `kb index`, which then writes it even when no
-- document changed; meanwhile nothing is spelled out (the old map cannot say whose it is).
ALTER TABLE kb_state ADD COLUMN acronym_sources jsonb;
