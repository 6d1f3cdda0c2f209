import request from 'supertest';
import type { Response } from 'supertest';
import type { Agent, TestContext } from './helpers';

/** The value of a read-only field on a page (the API key, the client secret, the Client ID...). */
export function fieldValue(html: string, id: string): string | undefined {
  const match = new RegExp(`<input id="${id}"[^>]*? value="([^"]*)"`).exec(html);
  return match?.[1];
}

/** The pending credential's id from the Save form's action (an id, not a secret). */
export function saveIdIn(html: string, kind: 'basic-auth' | 'oauth'): number {
  const match = new RegExp(`action="/admin/api/${kind}/(\\d+)/save"`).exec(html);
  if (!match) throw new Error(`no ${kind} Save form in the response`);
  return Number(match[1]);
}

export const htmx = { 'HX-Request': 'true' };

export interface GeneratedKey {
  res: Response;
  id: number;
  key: string;
}

export async function generateApiKey(agent: Agent, username: string, headers: Record<string, string> = {}): Promise<GeneratedKey> {
  const res = await agent.post('/admin/api/basic-auth/generate').set(headers).type('form').send({ _csrf: agent.csrf, username });
  if (res.status !== 200) throw new Error(`generate failed: ${res.status}`);
  const key = fieldValue(res.text, 'basic-key');
  if (!key) throw new Error('no API key in the generate response');
  return { res, id: saveIdIn(res.text, 'basic-auth'), key };
}

export interface GeneratedClient {
  res: Response;
  id: number;
  clientId: string;
  secret: string;
}

/** The scopes the migration seeds into the catalog, and every new company may grant. */
export const SEEDED_SCOPES = ['claims:read', 'claims:write', 'documents:read', 'documents:write'];

/** Generates client credentials as the form does: the ticked scopes (all of the seeded ones by default). */
export async function generateClient(agent: Agent, scopes: string[] = SEEDED_SCOPES, headers: Record<string, string> = {}): Promise<GeneratedClient> {
  const body = { _csrf: agent.csrf, scopes };
  const res = await agent.post('/admin/api/oauth/generate').set(headers).type('form').send(body);
  if (res.status !== 200) throw new Error(`generate failed: ${res.status}`);
  const clientId = fieldValue(res.text, 'oauth-client-id');
  const secret = fieldValue(res.text, 'oauth-client-secret');
  if (!clientId || !secret) throw new Error('no client credentials in the generate response');
  return { res, id: saveIdIn(res.text, 'oauth'), clientId, secret };
}

export function saveCredential(agent: Agent, kind: 'basic-auth' | 'oauth', id: number, overlap?: string, headers: Record<string, string> = {}) {
  return agent
    .post(`/admin/api/${kind}/${id}/save`)
    .set(headers)
    .type('form')
    .send({ _csrf: agent.csrf, ...(overlap ? { overlap } : {}) });
}

/** Does the platform API accept this API username and key right now? (GET /api/v1/me with Basic auth.) */
export async function apiKeyWorks(ctx: TestContext, username: string, key: string): Promise<boolean> {
  const res = await request(ctx.app).get('/api/v1/me').auth(username, key);
  if (res.status !== 200 && res.status !== 401) throw new Error(`GET /api/v1/me answered ${res.status}`);
  return res.status === 200;
}

/** Does the token endpoint accept this client (client_credentials grant, client_secret_basic)? */
export async function clientWorks(ctx: TestContext, clientId: string, secret: string): Promise<boolean> {
  const res = await request(ctx.app).post('/oauth/token').auth(clientId, secret).type('form').send({ grant_type: 'client_credentials' });
  if (res.status !== 200 && res.status !== 401) throw new Error(`POST /oauth/token answered ${res.status}`);
  return res.status === 200;
}

/** Every place a secret could leak to at rest: the SQLite file, its WAL, and the server log. */
export function leaks(ctx: TestContext, secret: string, files: Buffer[]): string[] {
  const found: string[] = [];
  const needle = Buffer.from(secret, 'utf8');
  files.forEach((bytes, i) => {
    if (bytes.includes(needle)) found.push(`file #${i}`);
  });
  if (ctx.logs().includes(secret)) found.push('log');
  return found;
}
