-- xaa-broker schema. Shared by the Node (better-sqlite3) and Workers (D1) adapters.

CREATE TABLE IF NOT EXISTS signing_keys (
  kid TEXT PRIMARY KEY,
  alg TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
  private_jwk TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS signing_keys_one_active ON signing_keys (state) WHERE state = 'active';

CREATE TABLE IF NOT EXISTS mapping_table (
  namespace TEXT NOT NULL,
  upstream_issuer TEXT NOT NULL,
  upstream_subject TEXT NOT NULL,
  subject TEXT NOT NULL,
  PRIMARY KEY (namespace, upstream_issuer, upstream_subject)
);
CREATE UNIQUE INDEX IF NOT EXISTS mapping_table_subject ON mapping_table (namespace, subject);

CREATE TABLE IF NOT EXISTS subject_bindings (
  namespace TEXT NOT NULL,
  principal_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  source TEXT NOT NULL,
  version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, principal_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS subject_bindings_subject ON subject_bindings (namespace, subject);

CREATE TABLE IF NOT EXISTS replay (
  scope TEXT NOT NULL,
  id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (scope, id)
);
CREATE INDEX IF NOT EXISTS replay_expiry ON replay (expires_at);

CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  request_id TEXT NOT NULL,
  record TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS broker_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
