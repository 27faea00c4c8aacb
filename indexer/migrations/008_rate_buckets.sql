-- Per-key rate-limit buckets beside the keys (api/security.py RateLimiter), so every API
-- replica and worker draws on the same budget instead of each granting the full limit.
CREATE TABLE rate_buckets (
    key_id text PRIMARY KEY,
    tokens double precision NOT NULL,
    updated double precision NOT NULL
);
