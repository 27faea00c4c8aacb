-- The short forms the indexed documents define ({short: [long form, any_case]}), so a search
-- reads them to the model spelled out, as the local backend does from its manifest
-- (indexer/acronyms.py). NULL until the next `kb index`, which then writes them even when no
-- document changed.
ALTER TABLE kb_state ADD COLUMN acronyms jsonb;
