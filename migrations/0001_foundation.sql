-- Tenants, people, sessions, invitations, the audit trail, the outbox and small settings.
-- Times are INTEGER milliseconds since the epoch (UTC).

CREATE TABLE companies (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
  id             INTEGER PRIMARY KEY,
  company_id     INTEGER NOT NULL REFERENCES companies(id),
  email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash  TEXT,                      -- NULL until the invitation is accepted
  is_operator    INTEGER NOT NULL DEFAULT 0 CHECK (is_operator IN (0, 1)),
  disabled_at    INTEGER,
  created_at     INTEGER NOT NULL,
  last_sign_in_at INTEGER
) STRICT;
CREATE INDEX users_company ON users(company_id);

-- express-session store. sid is the session id; data is the JSON session.
CREATE TABLE sessions (
  sid         TEXT PRIMARY KEY,
  user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
  data        TEXT NOT NULL,
  expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- One-time links: administrator invitations and password resets. Only SHA-256 of the token is kept.
CREATE TABLE invitations (
  id          INTEGER PRIMARY KEY,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash  BLOB NOT NULL UNIQUE,
  created_by  INTEGER REFERENCES users(id),
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
) STRICT;

CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) STRICT;

CREATE TABLE audit_log (
  id             INTEGER PRIMARY KEY,
  at             INTEGER NOT NULL,
  company_id     INTEGER REFERENCES companies(id),
  actor_user_id  INTEGER REFERENCES users(id),
  actor          TEXT NOT NULL,             -- email, 'system', or a credential identifier
  action         TEXT NOT NULL,             -- e.g. auth.sign_in, credential.save
  target         TEXT,
  ip             TEXT,
  user_agent     TEXT,
  details        TEXT                       -- JSON, never a secret
) STRICT;
CREATE INDEX audit_company_at ON audit_log(company_id, at);
CREATE INDEX audit_action_at ON audit_log(action, at);

-- Every outgoing message, sent or not, with its delivery state.
CREATE TABLE outbox (
  id            INTEGER PRIMARY KEY,
  company_id    INTEGER REFERENCES companies(id),
  to_address    TEXT NOT NULL,
  subject       TEXT NOT NULL,
  text_body     TEXT NOT NULL,
  html_body     TEXT,
  kind          TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed', 'kept')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  last_error    TEXT,
  next_attempt_at INTEGER,
  created_at    INTEGER NOT NULL,
  sent_at       INTEGER
) STRICT;
CREATE INDEX outbox_state ON outbox(state, next_attempt_at);

-- The deployment's scope catalog and the scopes each company may grant.
CREATE TABLE scopes (
  name         TEXT PRIMARY KEY,
  description  TEXT NOT NULL,
  created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE company_scopes (
  company_id  INTEGER NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
  scope       TEXT NOT NULL REFERENCES scopes(name) ON DELETE CASCADE,
  PRIMARY KEY (company_id, scope)
) STRICT;

INSERT INTO scopes (name, description, created_at) VALUES
  ('claims:read',  'Read claims and their status', 0),
  ('claims:write', 'Create and update claims', 0),
  ('documents:read', 'Download claim documents', 0),
  ('documents:write', 'Upload claim documents', 0);
