-- Requests for access to the OAuth 2.0 API documentation, the personal links a grant sends,
-- and what the outbox needs for SMTP delivery.

-- One row per request. A company has at most one open (pending or granted) request per address;
-- after a denial or a revocation the address may be requested again (a new row).
CREATE TABLE access_requests (
  id                INTEGER PRIMARY KEY,
  company_id        INTEGER NOT NULL REFERENCES companies(id),
  email             TEXT NOT NULL COLLATE NOCASE,
  requested_by      INTEGER REFERENCES users(id),
  status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'granted', 'denied', 'revoked')),
  created_at        INTEGER NOT NULL,
  decided_at        INTEGER,            -- granted or denied
  decided_by        INTEGER REFERENCES users(id),
  decision_message  TEXT,               -- the operator's optional message, mailed with the decision
  revoked_at        INTEGER,
  revoked_by        INTEGER REFERENCES users(id)
) STRICT;
CREATE UNIQUE INDEX access_requests_open ON access_requests(company_id, email) WHERE status IN ('pending', 'granted');
CREATE INDEX access_requests_status ON access_requests(status, created_at);
CREATE INDEX access_requests_email ON access_requests(email, status);

-- Personal documentation links sent with a grant. Only SHA-256 of the token is kept; a link
-- stops working when it expires, when it is replaced by a new one, or when the grant is revoked.
CREATE TABLE docs_links (
  id            INTEGER PRIMARY KEY,
  request_id    INTEGER NOT NULL REFERENCES access_requests(id),
  token_hash    BLOB NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  revoked_at    INTEGER,
  last_used_at  INTEGER
) STRICT;
CREATE INDEX docs_links_request ON docs_links(request_id);

-- Access links in a message (a documentation link, an invitation) are kept only until the message
-- is delivered: `secrets` lists them (JSON) so the delivered copy can be scrubbed of them.
ALTER TABLE outbox ADD COLUMN secrets TEXT;
ALTER TABLE outbox ADD COLUMN message_id TEXT;
