-- Issue 14, part C.
-- A credential's IP allowlist: canonical IPv4/IPv6 CIDR ranges, space-separated ('' allows every
-- address; src/features/credentials/ranges.ts writes and reads it). Read with the credential's row on
-- every platform request, so no second query. A new generation starts with the allowlist of the
-- credential it replaces.
ALTER TABLE credentials ADD COLUMN allowed_ranges TEXT NOT NULL DEFAULT '';

-- What a leak report (POST /api/v1/credentials/leaked) does to a company's credential that was found:
-- 'revoke' it at once (the default), or only 'report' it to the company's administrators.
ALTER TABLE companies ADD COLUMN leak_policy TEXT NOT NULL DEFAULT 'revoke' CHECK (leak_policy IN ('revoke', 'report'));
