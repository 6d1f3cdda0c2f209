-- Usage you can see (issue 14): each credential's successful uses per UTC hour, for the last 30 days,
-- and its last caller. Both are counted in memory and flushed every few seconds (src/features/usage/):
-- never a write per request. A flush ADDS its counts to the hour's row (replicas flush in turn, each
-- with its own counts); rows older than 30 days are pruned. src/features/usage/repo.ts owns both tables.
CREATE TABLE credential_usage (
  credential_id  {{int}} NOT NULL REFERENCES credentials(id) ON DELETE CASCADE,
  hour           {{int}} NOT NULL,            -- start of the UTC hour, ms since the epoch
  basic_checks   {{int}} NOT NULL DEFAULT 0,  -- API key checks that succeeded (/api/v1/me, /auth/verify)
  tokens_issued  {{int}} NOT NULL DEFAULT 0,  -- access tokens issued to the client (/oauth/token)
  bearer_checks  {{int}} NOT NULL DEFAULT 0,  -- the client's access tokens accepted (/api/v1/me, /auth/verify)
  PRIMARY KEY (credential_id, hour)
) {{strict}};
CREATE INDEX credential_usage_hour ON credential_usage(hour);

-- The last successful caller of each credential: its address (as TRUST_PROXY makes it) and User-Agent
-- (truncated). A flush replaces it only with a later one, so replicas' flushes never move it back.
CREATE TABLE credential_callers (
  credential_id  {{int}} PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
  used_at        {{int}} NOT NULL,
  address        TEXT NOT NULL,
  user_agent     TEXT NOT NULL DEFAULT ''
) {{strict}};
