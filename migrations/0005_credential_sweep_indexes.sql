-- The sweep (every 30 s, and before the API page is shown) looks for lapsed generations and ended
-- overlaps: these partial indexes make that a lookup instead of a scan of every credential.
CREATE INDEX credentials_pending_expiry ON credentials(expires_at) WHERE status = 'pending';
CREATE INDEX credentials_retiring_end ON credentials(retires_at) WHERE status = 'retiring';
