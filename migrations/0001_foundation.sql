-- Tenants, people, sessions, invitations, the audit trail, the outbox and small settings.
-- Times are integer milliseconds since the epoch (UTC).
--
-- Every migration is one source for both engines (src/db/migrate.ts renders it): where SQLite and
-- PostgreSQL differ, it says {{id}} (an integer key the database assigns), {{int}} (a 64-bit integer),
-- {{blob}} (bytes), {{nocase}} (text compared without case: COLLATE NOCASE, or PostgreSQL's citext)
-- and {{strict}} (SQLite's STRICT tables). Everything else is SQL both engines read alike.

CREATE TABLE companies (
  id          {{id}},
  name        {{nocase}} NOT NULL UNIQUE,
  created_at  {{int}} NOT NULL
) {{strict}};

CREATE TABLE users (
  id             {{id}},
  company_id     {{int}} NOT NULL REFERENCES companies(id),
  email          {{nocase}} NOT NULL UNIQUE,
  password_hash  TEXT,                      -- NULL until the invitation is accepted
  is_operator    {{int}} NOT NULL DEFAULT 0 CHECK (is_operator IN (0, 1)),
  disabled_at    {{int}},
  created_at     {{int}} NOT NULL,
  last_sign_in_at {{int}}
) {{strict}};
CREATE INDEX users_company ON users(company_id);

-- express-session store. sid is the session id; data is the JSON session.
CREATE TABLE sessions (
  sid         TEXT PRIMARY KEY,
  user_id     {{int}} REFERENCES users(id) ON DELETE CASCADE,
  data        TEXT NOT NULL,
  expires_at  {{int}} NOT NULL
) {{strict}};
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- One-time links: administrator invitations and password resets. Only SHA-256 of the token is kept.
CREATE TABLE invitations (
  id          {{id}},
  user_id     {{int}} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash  {{blob}} NOT NULL UNIQUE,
  created_by  {{int}} REFERENCES users(id),
  created_at  {{int}} NOT NULL,
  expires_at  {{int}} NOT NULL,
  used_at     {{int}}
) {{strict}};

CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) {{strict}};

CREATE TABLE audit_log (
  id             {{id}},
  at             {{int}} NOT NULL,
  company_id     {{int}} REFERENCES companies(id),
  actor_user_id  {{int}} REFERENCES users(id),
  actor          TEXT NOT NULL,             -- email, 'system', or a credential identifier
  action         TEXT NOT NULL,             -- e.g. auth.sign_in, credential.save
  target         TEXT,
  ip             TEXT,
  user_agent     TEXT,
  details        TEXT                       -- JSON, never a secret
) {{strict}};
CREATE INDEX audit_company_at ON audit_log(company_id, at);
CREATE INDEX audit_action_at ON audit_log(action, at);

-- Every outgoing message, sent or not, with its delivery state.
CREATE TABLE outbox (
  id            {{id}},
  company_id    {{int}} REFERENCES companies(id),
  to_address    TEXT NOT NULL,
  subject       TEXT NOT NULL,
  text_body     TEXT NOT NULL,
  html_body     TEXT,
  kind          TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed', 'kept')),
  attempts      {{int}} NOT NULL DEFAULT 0,
  last_error    TEXT,
  next_attempt_at {{int}},
  created_at    {{int}} NOT NULL,
  sent_at       {{int}}
) {{strict}};
CREATE INDEX outbox_state ON outbox(state, next_attempt_at);

-- The deployment's scope catalog and the scopes each company may grant.
CREATE TABLE scopes (
  name         TEXT PRIMARY KEY,
  description  TEXT NOT NULL,
  created_at   {{int}} NOT NULL
) {{strict}};

CREATE TABLE company_scopes (
  company_id  {{int}} NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
  scope       TEXT NOT NULL REFERENCES scopes(name) ON DELETE CASCADE,
  PRIMARY KEY (company_id, scope)
) {{strict}};

INSERT INTO scopes (name, description, created_at) VALUES
  ('claims:read',  'Read claims and their status', 0),
  ('claims:write', 'Create and update claims', 0),
  ('documents:read', 'Download claim documents', 0),
  ('documents:write', 'Upload claim documents', 0);
