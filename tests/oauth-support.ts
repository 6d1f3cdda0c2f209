import net from 'node:net';
import type { Express } from 'express';
import request from 'supertest';
import type { Clock } from '../src/clock';
import type { Seedable } from './helpers';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import type { Overlap } from '../src/features/credentials/service';
import { generateApiKeyFor, generateClientCredentials, revokeCredential, saveCredential } from '../src/features/credentials/service';
import type { Mailer } from '../src/features/mail/service';

/** Shared by the platform-API tests: credentials made the way the API page makes them (generate, then Save). */

const noMail: Mailer = { send: () => Promise.resolve(0) };

/** What making credentials needs of a test context (a TestContext has it). */
export type CredentialSeedable = Seedable & { clock: Clock };

export function credentialsDeps(ctx: CredentialSeedable) {
  return { db: ctx.database, clock: ctx.clock, audit: new AuditLog(ctx.database, ctx.clock), mailer: noMail };
}

/** The platform API's JSON error answer (RFC 6749 5.2), for reading `res.body`, which supertest types as `any`. */
export interface ErrorBody {
  error: string;
  error_description: string;
}

export interface TestClient {
  clientId: string;
  secret: string;
  credentialId: number;
}

export async function createClient(ctx: CredentialSeedable, companyId: number, scopes?: string[], overlap: Overlap = 'none'): Promise<TestClient> {
  const deps = credentialsDeps(ctx);
  const generated = await generateClientCredentials(deps, companyId, scopes, SYSTEM_ACTOR);
  const saved = await saveCredential(deps, companyId, 'oauth', generated.credential.id, overlap, SYSTEM_ACTOR);
  if (!saved.ok) throw new Error(saved.message);
  return { clientId: generated.credential.identifier, secret: generated.secret, credentialId: generated.credential.id };
}

export interface TestApiKey {
  username: string;
  key: string;
  credentialId: number;
}

export async function createApiKey(ctx: CredentialSeedable, companyId: number, username: string, overlap: Overlap = 'none'): Promise<TestApiKey> {
  const deps = credentialsDeps(ctx);
  const generated = await generateApiKeyFor(deps, companyId, username, SYSTEM_ACTOR);
  const saved = await saveCredential(deps, companyId, 'basic', generated.credential.id, overlap, SYSTEM_ACTOR);
  if (!saved.ok) throw new Error(saved.message);
  return { username, key: generated.secret, credentialId: generated.credential.id };
}

export async function revoke(ctx: CredentialSeedable, companyId: number, credentialId: number): Promise<void> {
  await revokeCredential(credentialsDeps(ctx), companyId, credentialId, 'test', SYSTEM_ACTOR);
}

/**
 * Waits for the app's start-up work (the first signing key, pruning), which runs asynchronously from
 * createApp: every request waits for it, so one request does. Needed before reading signing_keys
 * directly, and before a second connection in this process writes (SQLite's busy wait would block
 * the event loop while the first connection's start-up transaction waits on it).
 */
export async function started(app: Express): Promise<void> {
  expect((await request(app).get('/.well-known/jwks.json')).status).toBe(200);
}

/** RFC 6749 2.3.1: each part form-urlencoded, then "id:secret" base64-encoded. */
export function clientBasic(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

/** A header made by hand from the exact string given (no encoding applied). */
export function rawBasic(decoded: string): string {
  return `Basic ${Buffer.from(decoded).toString('base64')}`;
}

export async function obtainToken(app: Express, client: TestClient, scope?: string): Promise<string> {
  const res = await request(app)
    .post('/oauth/token')
    .set('Authorization', clientBasic(client.clientId, client.secret))
    .type('form')
    .send(scope === undefined ? { grant_type: 'client_credentials' } : { grant_type: 'client_credentials', scope });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.text}`);
  return (res.body as { access_token: string }).access_token;
}

export function decodeJwtPart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A port that was free a moment ago (for servers that cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
