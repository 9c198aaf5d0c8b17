-- PostgreSQL dialect of migrations/0007_signing_keys_per_alg.sql (the same statements).
-- One active signing key per algorithm instead of one in all: the ring's key (signing.alg) signs
-- beside the key of the other algorithm that clients registered for it need for their ID tokens
-- (id_token_signed_response_alg, docs/provider.md), and both rotate together with `rotate-keys`.
-- An RS256 key an earlier version kept in broker_secrets (`companion-signing-key:RS256`) is moved
-- into this table by the first broker that starts after this migration (src/minting/keys.ts).
DROP INDEX IF EXISTS signing_keys_one_active;
CREATE UNIQUE INDEX IF NOT EXISTS signing_keys_one_active_per_alg ON signing_keys (alg) WHERE state = 'active';
