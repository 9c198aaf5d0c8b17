-- PostgreSQL dialect of migrations/0003_binding_upstream.sql (BIGINT for the SQLite INTEGER columns).
-- A binding remembers the upstream whose login it was made from (who told the broker this value).
-- Rows bound before this column existed keep NULL: their upstream is the principal's own.
ALTER TABLE subject_bindings ADD COLUMN upstream_issuer TEXT;
