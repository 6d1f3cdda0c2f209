-- API credentials: Basic Auth API keys (kind 'basic', identifier = username) and OAuth 2.0
-- clients (kind 'oauth', identifier = client_id). Both share one life cycle:
--   pending  -> generated, shown once, never works; expires_at = generation + 30 min
--   active   -> saved; the company's working credential of that kind (at most one)
--   retiring -> replaced with an overlap; works until retires_at
--   retired | revoked | expired -> never works again
-- Only SHA-256 of the secret is stored (secret_hash); secret_prefix is the public start of it.
CREATE TABLE credentials (
  id              {{id}},
  company_id      {{int}} NOT NULL REFERENCES companies(id),
  kind            TEXT NOT NULL CHECK (kind IN ('basic', 'oauth')),
  identifier      TEXT NOT NULL,
  secret_prefix   TEXT NOT NULL,
  secret_hash     {{blob}} NOT NULL,
  scopes          TEXT NOT NULL DEFAULT '',
  status          TEXT NOT NULL CHECK (status IN ('pending', 'active', 'retiring', 'retired', 'revoked', 'expired')),
  replaces_id     {{int}} REFERENCES credentials(id), -- the active credential when this one was generated
  created_by      {{int}} REFERENCES users(id),
  created_at      {{int}} NOT NULL,
  expires_at      {{int}},        -- pending: when the unsaved generation lapses
  saved_by        {{int}} REFERENCES users(id),
  saved_at        {{int}},
  retires_at      {{int}},        -- retiring: end of the overlap window
  ended_at        {{int}},        -- when it stopped working (retired, revoked, expired)
  revoked_by      {{int}} REFERENCES users(id),
  revoke_reason   TEXT,
  last_used_at    {{int}}
) {{strict}};
CREATE INDEX credentials_lookup ON credentials(kind, identifier, status);
CREATE INDEX credentials_company ON credentials(company_id, kind, status);
CREATE UNIQUE INDEX credentials_secret_hash ON credentials(secret_hash);
-- At most one active credential of each kind per company: a crash or a race can never leave two.
CREATE UNIQUE INDEX credentials_one_active ON credentials(company_id, kind) WHERE status = 'active';

-- A Basic Auth username identifies the caller across the whole deployment: the first company
-- to use one owns it (case-insensitively), and keeps it through rotations.
CREATE TABLE api_usernames (
  username    {{nocase}} PRIMARY KEY,
  company_id  {{int}} NOT NULL REFERENCES companies(id),
  claimed_at  {{int}} NOT NULL
) {{strict}};
