-- Second factors (issue 13): authenticator apps (TOTP, RFC 6238), recovery codes, and the companies
-- whose administrators must have a second factor. src/features/second-factors/repo.ts owns all three.

-- One row per authenticator app. The secret is sealed (AES-256-GCM under a key derived from
-- SESSION_SECRET, src/crypto.ts), never stored in the clear. confirmed_at is NULL while enrolment waits
-- for its first code; such a row never counts as a factor. last_step is the time step (unix time / 30 s)
-- of the last accepted code: a code of that step or an earlier one is refused (no replay).
CREATE TABLE totp_factors (
  id             {{id}},
  user_id        {{int}} NOT NULL REFERENCES users(id),
  name           TEXT NOT NULL,
  secret_sealed  TEXT NOT NULL,
  created_at     {{int}} NOT NULL,
  confirmed_at   {{int}},
  last_used_at   {{int}},
  last_step      {{int}} NOT NULL DEFAULT 0
) {{strict}};
CREATE INDEX totp_factors_user ON totp_factors(user_id, confirmed_at);

-- Ten single-use codes per user, stored as SHA-256 of the normalized code (80 bits of randomness each).
-- A regenerated set replaces the whole old one.
CREATE TABLE recovery_codes (
  id          {{id}},
  user_id     {{int}} NOT NULL REFERENCES users(id),
  code_hash   {{blob}} NOT NULL,
  created_at  {{int}} NOT NULL,
  used_at     {{int}}
) {{strict}};
CREATE INDEX recovery_codes_user ON recovery_codes(user_id, used_at);

-- A company whose administrators must have a second factor (a row means required). The same rule for
-- operators is deployment-wide: the 'operators_require_second_factor' row of settings.
CREATE TABLE factor_requirements (
  company_id   {{int}} PRIMARY KEY REFERENCES companies(id),
  required_at  {{int}} NOT NULL,
  required_by  {{int}} REFERENCES users(id)
) {{strict}};
