-- The authorization server: access-token signing keys and revoked access tokens.

-- ES256 signing keys. kid is the key's RFC 7638 thumbprint. Exactly one key is active (it signs);
-- a rotation retires it: its private half is erased at once (it never signs again) and its public
-- half stays in the JWKS until published_until, by when every token it signed has expired.
CREATE TABLE signing_keys (
  kid              TEXT PRIMARY KEY,
  alg              TEXT NOT NULL CHECK (alg = 'ES256'),
  public_jwk       TEXT NOT NULL,                -- JSON {kty, crv, x, y}
  private_pem      TEXT,                         -- PKCS#8 PEM while active; NULL once retired
  status           TEXT NOT NULL CHECK (status IN ('active', 'retired')),
  token_ttl_ms     {{int}} NOT NULL,             -- longest access-token lifetime any server signed with it
  created_at       {{int}} NOT NULL,
  created_by       TEXT NOT NULL,                -- 'system' (first start), 'cli', or an operator's email
  retired_at       {{int}},
  retired_by       TEXT,
  published_until  {{int}},                      -- retired: in the JWKS until then
  CHECK ((status = 'active') = (private_pem IS NOT NULL))
) {{strict}};
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(status) WHERE status = 'active';

-- Access tokens are not stored when issued (no write per token); a revoked one is remembered here
-- by its jti until it would have expired anyway, then pruned.
CREATE TABLE revoked_tokens (
  jti            TEXT PRIMARY KEY,
  credential_id  {{int}} NOT NULL REFERENCES credentials(id),
  expires_at     {{int}} NOT NULL,
  revoked_at     {{int}} NOT NULL
) {{strict}};
CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at);
