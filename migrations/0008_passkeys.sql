-- Passkeys (WebAuthn credentials) of console users (issue 13). credential_id is the authenticator's
-- id for the credential (base64url, as the browser reports it), unique across the deployment: a
-- sign-in with a passkey finds its user by it. public_key is the COSE key the authenticator gave at
-- registration; counter the signature counter it last reported (0 for authenticators that keep none);
-- transports a JSON list of hints for the browser. src/features/passkeys/repo.ts owns this table.
CREATE TABLE passkeys (
  id             {{id}},
  user_id        {{int}} NOT NULL REFERENCES users(id),
  credential_id  TEXT NOT NULL,
  public_key     {{blob}} NOT NULL,
  counter        {{int}} NOT NULL DEFAULT 0,
  transports     TEXT NOT NULL DEFAULT '[]',
  name           TEXT NOT NULL,
  created_at     {{int}} NOT NULL,
  last_used_at   {{int}}
) {{strict}};
CREATE UNIQUE INDEX passkeys_credential_id ON passkeys(credential_id);
CREATE INDEX passkeys_user ON passkeys(user_id);
