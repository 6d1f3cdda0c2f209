import type { Generated } from 'kysely';

/**
 * Every table, as Kysely sees it: the one description the repos' queries are typed against, on both
 * engines. The tables themselves are made by migrations/*.sql (see src/db/migrate.ts). Times are
 * integer milliseconds since the epoch (UTC); flags are 0/1 integers; digests are bytes.
 */
export interface Tables {
  companies: {
    id: Generated<number>;
    name: string;
    created_at: number;
    max_credential_lifetime_days: number | null;
    leak_policy: Generated<'revoke' | 'report'>;
  };
  users: {
    id: Generated<number>;
    company_id: number;
    email: string;
    password_hash: string | null;
    is_operator: Generated<number>;
    disabled_at: number | null;
    created_at: number;
    last_sign_in_at: number | null;
  };
  sessions: { sid: string; user_id: number | null; data: string; expires_at: number };
  invitations: {
    id: Generated<number>;
    user_id: number;
    token_hash: Buffer;
    created_by: number | null;
    created_at: number;
    expires_at: number;
    used_at: number | null;
  };
  settings: { key: string; value: string };
  audit_log: {
    id: Generated<number>;
    at: number;
    company_id: number | null;
    actor_user_id: number | null;
    actor: string;
    action: string;
    target: string | null;
    ip: string | null;
    user_agent: string | null;
    details: string | null;
  };
  outbox: {
    id: Generated<number>;
    company_id: number | null;
    to_address: string;
    subject: string;
    text_body: string;
    html_body: string | null;
    kind: string;
    state: Generated<'queued' | 'sent' | 'failed' | 'kept'>;
    attempts: Generated<number>;
    last_error: string | null;
    next_attempt_at: number | null;
    created_at: number;
    sent_at: number | null;
    secrets: string | null;
    message_id: string | null;
  };
  scopes: { name: string; description: string; created_at: number };
  company_scopes: { company_id: number; scope: string };
  credentials: {
    id: Generated<number>;
    company_id: number;
    kind: 'basic' | 'oauth';
    identifier: string;
    secret_prefix: string;
    secret_hash: Buffer;
    scopes: Generated<string>;
    status: 'pending' | 'active' | 'retiring' | 'retired' | 'revoked' | 'expired';
    replaces_id: number | null;
    created_by: number | null;
    created_at: number;
    expires_at: number | null;
    saved_by: number | null;
    saved_at: number | null;
    retires_at: number | null;
    ended_at: number | null;
    revoked_by: number | null;
    revoke_reason: string | null;
    last_used_at: number | null;
    allowed_ranges: Generated<string>;
  };
  api_usernames: { username: string; company_id: number; claimed_at: number };
  credential_expiry_warnings: { credential_id: number; days_before: 1 | 7 | 14; sent_at: number };
  signing_keys: {
    kid: string;
    alg: 'ES256';
    public_jwk: string;
    private_pem: string | null;
    status: 'active' | 'retired';
    token_ttl_ms: number;
    created_at: number;
    created_by: string;
    retired_at: number | null;
    retired_by: string | null;
    published_until: number | null;
  };
  revoked_tokens: { jti: string; credential_id: number; expires_at: number; revoked_at: number };
  access_requests: {
    id: Generated<number>;
    company_id: number;
    email: string;
    requested_by: number | null;
    status: Generated<'pending' | 'granted' | 'denied' | 'revoked'>;
    created_at: number;
    decided_at: number | null;
    decided_by: number | null;
    decision_message: string | null;
    revoked_at: number | null;
    revoked_by: number | null;
  };
  docs_links: {
    id: Generated<number>;
    request_id: number;
    token_hash: Buffer;
    created_at: number;
    expires_at: number;
    revoked_at: number | null;
    last_used_at: number | null;
  };
  totp_factors: {
    id: Generated<number>;
    user_id: number;
    name: string;
    secret_sealed: string;
    created_at: number;
    confirmed_at: number | null;
    last_used_at: number | null;
    last_step: Generated<number>;
  };
  recovery_codes: { id: Generated<number>; user_id: number; code_hash: Buffer; created_at: number; used_at: number | null };
  factor_requirements: { company_id: number; required_at: number; required_by: number | null };
  throttle_windows: { key: string; window_start: number; count: number };
  passkeys: {
    id: Generated<number>;
    user_id: number;
    credential_id: string;
    public_key: Buffer;
    counter: Generated<number>;
    transports: Generated<string>;
    name: string;
    created_at: number;
    last_used_at: number | null;
  };
  credential_usage: {
    credential_id: number;
    hour: number;
    basic_checks: Generated<number>;
    tokens_issued: Generated<number>;
    bearer_checks: Generated<number>;
  };
  credential_callers: { credential_id: number; used_at: number; address: string; user_agent: Generated<string> };
  schema_migrations: { name: string; applied_at: number };
}
