-- Credential lifetimes (issue 14). A saved credential's expires_at is the end of the lifetime chosen at
-- Save (NULL: it never expires); before Save it is still the unsaved generation's lapse (decision 0018).
-- The platform API compares it with now on every request, so a credential stops working at its expiry
-- even before the sweep marks it 'expired'. This index lets the sweep find the ones that lapsed.
CREATE INDEX credentials_lifetime_end ON credentials(expires_at) WHERE status IN ('active', 'retiring');

-- The longest lifetime a company's administrators may choose at Save, in days (NULL: no maximum, and
-- "never expires" is allowed). The operator sets it on the company's page.
ALTER TABLE companies ADD COLUMN max_credential_lifetime_days {{int}};

-- The expiry warnings mailed to a company's administrators (14, 7 and 1 days before): one row per
-- warning, written in the transaction that queues its mail, so each is sent once across restarts and
-- replicas. Owned by src/features/credentials/repo.ts.
CREATE TABLE credential_expiry_warnings (
  credential_id  {{int}} NOT NULL REFERENCES credentials(id),
  days_before    {{int}} NOT NULL CHECK (days_before IN (1, 7, 14)),
  sent_at        {{int}} NOT NULL,
  PRIMARY KEY (credential_id, days_before)
) {{strict}};
