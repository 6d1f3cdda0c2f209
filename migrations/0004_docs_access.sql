-- Requests for access to the OAuth 2.0 API documentation, the personal links a grant sends,
-- and what the outbox needs for SMTP delivery.

-- One row per request. A company has at most one open (pending or granted) request per address;
-- after a denial or a revocation the address may be requested again (a new row).
CREATE TABLE access_requests (
  id                {{id}},
  company_id        {{int}} NOT NULL REFERENCES companies(id),
  email             {{nocase}} NOT NULL,
  requested_by      {{int}} REFERENCES users(id),
  status            TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'granted', 'denied', 'revoked')),
  created_at        {{int}} NOT NULL,
  decided_at        {{int}},            -- granted or denied
  decided_by        {{int}} REFERENCES users(id),
  decision_message  TEXT,               -- the operator's optional message, mailed with the decision
  revoked_at        {{int}},
  revoked_by        {{int}} REFERENCES users(id)
) {{strict}};
CREATE UNIQUE INDEX access_requests_open ON access_requests(company_id, email) WHERE status IN ('pending', 'granted');
CREATE INDEX access_requests_status ON access_requests(status, created_at);
CREATE INDEX access_requests_email ON access_requests(email, status);

-- Personal documentation links sent with a grant. Only SHA-256 of the token is kept; a link
-- stops working when it expires, when it is replaced by a new one, or when the grant is revoked.
CREATE TABLE docs_links (
  id            {{id}},
  request_id    {{int}} NOT NULL REFERENCES access_requests(id),
  token_hash    {{blob}} NOT NULL UNIQUE,
  created_at    {{int}} NOT NULL,
  expires_at    {{int}} NOT NULL,
  revoked_at    {{int}},
  last_used_at  {{int}}
) {{strict}};
CREATE INDEX docs_links_request ON docs_links(request_id);

-- Access links in a message (a documentation link, an invitation) are kept only until the message
-- is delivered: `secrets` lists them (JSON) so the delivered copy can be scrubbed of them.
ALTER TABLE outbox ADD COLUMN secrets TEXT;
ALTER TABLE outbox ADD COLUMN message_id TEXT;
