import { safeNext } from '../src/features/auth/schema';
import { anonymousAgent, createTestContext, PASSWORD, seedCompany } from './helpers';
import type { TestContext } from './helpers';

/** Return paths a stranger could put in a sign-in link (`/sign-in?next=...`) to send someone off-site. */
const HOSTILE: [string, string][] = [
  ['a tab, dropped by browsers (/\\t/ becomes //)', '/\t/evil.com'],
  ['a newline', '/\n/evil.com'],
  ['a carriage return', '/\r/evil.com'],
  ['a NUL', '/\u0000/evil.com'],
  ['DEL', '/\u007f/evil.com'],
  ['a C1 control', '/\u0085/evil.com'],
  ['a leading space', ' /evil.com'],
  ['a space', '/ /evil.com'],
  ['a no-break space', '/\u00a0/evil.com'],
  ['an ideographic space', '/\u3000/evil.com'],
  ['a line separator', '/\u2028/evil.com'],
  ['a byte-order mark', '/\ufeff/evil.com'],
  ['a backslash', '/\\evil.com'],
  ['two backslashes', '\\\\evil.com'],
  ['a backslash later on', '/audit\\..\\..\\evil.com'],
  ['a protocol-relative URL', '//evil.com'],
  ['three slashes', '///evil.com'],
  ['an absolute URL', 'https://evil.com/'],
  ['a javascript: URL', 'javascript:alert(1)'],
  ['a relative path', 'evil.com'],
  ['an encoded tab', '/%09/evil.com'],
  ['an encoded newline', '/%0a/evil.com'],
  ['an encoded carriage return', '/%0D/evil.com'],
  ['an encoded NUL', '/%00/evil.com'],
  ['an encoded backslash', '/%5Cevil.com'],
  ['an encoded slash making //', '/%2Fevil.com'],
  ['two encoded slashes', '/%2f%2fevil.com'],
  ['a double-encoded slash', '/%252F/evil.com'],
  ['a double-encoded tab', '/%2509/evil.com'],
  ['a triple-encoded slash', '/%25252F/evil.com'],
  ['an encoded space', '/%20/evil.com'],
  ['a stray percent sign', '/audit%'],
  ['broken UTF-8', '/%C0%AF/evil.com'],
  ['a 10 kB path', `/${'a'.repeat(10_000)}`],
];

/** Our own pages, as requireUser puts them in `next`: they come back unchanged. */
const OWN = [
  '/audit',
  '/audit?action=auth.sign_in',
  '/admin/api',
  '/operator/companies/3',
  '/operator/access-requests?status=pending&email=dev%40acme.test',
  '/admin/api#basic',
];

describe('safeNext (the return path after sign-in)', () => {
  it.each(HOSTILE)('falls back to the default page for %s', (_label, next) => {
    expect(safeNext(next)).toBe('/');
  });

  it.each(OWN)('keeps our own page %s', (next) => {
    expect(safeNext(next)).toBe(next);
  });
});

describe('POST /sign-in with a return path', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterAll(() => ctx.close());

  const signInWith = async (next: string) => {
    const agent = await anonymousAgent(ctx.app);
    return agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD, next });
  };

  it.each(HOSTILE.filter(([, next]) => next.length < 100))('signs in and goes to the API page, never off-site, for %s', async (_label, next) => {
    const res = await signInWith(next);
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
  });

  it('signs in and goes back to the page that asked for it', async () => {
    const res = await signInWith('/audit?action=auth.sign_in');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/audit?action=auth.sign_in');
  });
});

describe('GET /sign-in?next=', () => {
  let ctx: TestContext;
  beforeAll(() => {
    ctx = createTestContext();
  });
  afterAll(() => ctx.close());

  it('puts a hostile return path in the form as the default page', async () => {
    const agent = await anonymousAgent(ctx.app);
    const res = await agent.get('/sign-in').query({ next: '/\t/evil.com' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('<input type="hidden" name="next" value="/">');
    expect(res.text).not.toContain('evil.com');
  });
});
