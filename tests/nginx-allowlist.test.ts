import http from 'node:http';
import { SYSTEM_ACTOR } from '../src/features/audit/service';
import { setAllowlist } from '../src/features/credentials/allowlist';
import { createTestContext, seedCompany } from './helpers';
import { createApiKey, credentialsDeps } from './oauth-support';
import type { TestApiKey } from './oauth-support';
import { startDocumentedNginx } from './support/nginx';
import type { DocumentedProxy } from './support/nginx';

/** A GET through nginx from a chosen loopback address (127.0.0.0/8 is all ours), with extra headers. */
function getFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/**
 * The IP allowlist behind the documented nginx (docs/forward-auth.md): nginx appends the address it
 * saw to X-Forwarded-For, and the console trusts exactly that one hop (TRUST_PROXY=1). Clients connect
 * from 127.0.0.2 and 127.0.0.3, so nginx sees two different client addresses.
 */
describe('IP allowlists behind a real nginx (X-Forwarded-For)', () => {
  const ctx = createTestContext({ TRUST_PROXY: '1' });
  let apiKey: TestApiKey;
  let companyId: number;
  let proxy: DocumentedProxy | undefined;
  let base: string;

  const basic = () => `Basic ${Buffer.from(`${apiKey.username}:${apiKey.key}`).toString('base64')}`;

  beforeAll(async () => {
    ({ companyId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
    apiKey = await createApiKey(ctx, companyId, 'acme-allowlisted');
    await setAllowlist(credentialsDeps(ctx), companyId, apiKey.credentialId, '127.0.0.2/32', SYSTEM_ACTOR);
    proxy = await startDocumentedNginx(ctx.app, (_req, res) => res.end('upstream'), 'nginx-allowlist-');
    ({ base } = proxy);
  }, 30_000);

  afterAll(async () => {
    await proxy?.stop();
    await ctx.close();
  });

  it('lets a client in from an allowed address', async () => {
    const res = await getFrom('127.0.0.2', `${base}/documents/1`, { authorization: basic() });
    expect(res).toEqual({ status: 200, body: 'upstream' });
  });

  it('refuses the same key from another address with 403, and the API never sees it', async () => {
    const res = await getFrom('127.0.0.3', `${base}/documents/1`, { authorization: basic() });
    expect(res.status).toBe(403);
    expect(res.body).not.toContain('upstream');
    const [entry] = await ctx.query<{ ip: string }>("SELECT ip FROM audit_log WHERE action = 'credential.address_refused' ORDER BY id DESC LIMIT 1");
    expect(entry.ip).toBe('127.0.0.3');
  });

  it('is not fooled by an X-Forwarded-For the client wrote itself', async () => {
    const res = await getFrom('127.0.0.3', `${base}/documents/1`, { authorization: basic(), 'x-forwarded-for': '127.0.0.2' });
    expect(res.status).toBe(403);
  });
});
