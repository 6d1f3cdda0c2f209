import { userView } from '../src/features/companies/service';
import { DECISION_LABEL, areaRequest } from '../src/features/docs-access/service';
import type { AccessRequestRow } from '../src/features/docs-access/repo';
import { errorHeading } from '../src/http/error-handler';
import { keyView } from '../src/platform/signing-keys/routes';

/**
 * The words pages show come with their view models, not from the templates (issue 11;
 * tests/architecture.test.ts checks that the templates pick none). Each model's words, state by state.
 */

const HOUR = 3_600_000;

describe('the signing keys page: each key says its state', () => {
  const key = { kid: 'k', alg: 'ES256' as const, publicJwk: '{}', tokenTtlMs: HOUR, createdAt: 1, createdBy: 'op@example.com' };
  const active = { ...key, status: 'active' as const, retiredAt: null, retiredBy: null, publishedUntil: null, published: true, retiredAtOnce: false };
  const retired = { ...key, status: 'retired' as const, retiredAt: 10, retiredBy: 'op@example.com' };

  it.each([
    ['the active key', active, ['Active', 'active', 'signs new tokens', null]],
    [
      'a retired key still in the JWKS, until when',
      { ...retired, publishedUntil: 10 + HOUR, published: true, retiredAtOnce: false },
      ['Retired', 'retiring', 'in the JWKS until', 10 + HOUR],
    ],
    [
      'a key retired at once after a leak',
      { ...retired, publishedUntil: 10, published: false, retiredAtOnce: true },
      ['Retired at once', 'revoked', '(suspected leak) no longer published', null],
    ],
    [
      'a retired key whose window is over',
      { ...retired, publishedUntil: 10 + HOUR, published: false, retiredAtOnce: false },
      ['Retired', 'revoked', 'no longer published', null],
    ],
  ])('%s', (_state, listed, [label, cls, note, until]) => {
    const view = keyView(listed);
    expect([view.statusLabel, view.statusClass, view.statusNote, view.noteUntil]).toEqual([label, cls, note, until]);
    expect(view.kid).toBe('k');
  });
});

describe('the company page: each user has the button that turns it on or off', () => {
  const user = { id: 1, email: 'a@example.com', isOperator: false, hasPassword: true, lastSignInAt: null, createdAt: 1 };

  it('an enabled user: Disable, as a danger button posting to disable', () => {
    expect(userView({ ...user, disabledAt: null })).toMatchObject({ statusLabel: 'Active', toggle: { action: 'disable', label: 'Disable', style: 'danger' } });
  });

  it('a disabled user: Enable, as a secondary button posting to enable', () => {
    expect(userView({ ...user, disabledAt: 5 })).toMatchObject({ statusLabel: 'Disabled', toggle: { action: 'enable', label: 'Enable', style: 'secondary' } });
  });
});

describe('documentation access requests: the decision in words', () => {
  const request: AccessRequestRow = {
    id: 1,
    companyId: 1,
    companyName: 'Acme',
    email: 'dev@example.com',
    requestedBy: null,
    status: 'pending',
    createdAt: 1,
    decidedAt: null,
    decidedBy: null,
    decisionMessage: null,
    revokedAt: null,
    revokedBy: null,
  };

  it('the review page names the decision: a revoked grant was granted, a denied request denied', () => {
    expect(DECISION_LABEL).toEqual({ pending: '', granted: 'Granted', denied: 'Denied', revoked: 'Granted' });
  });

  it.each([
    ['pending: waiting, no time', request, { label: 'Waiting for review', at: null }],
    ['granted: the time of the decision', { ...request, status: 'granted' as const, decidedAt: 20 }, { label: '', at: 20 }],
    ['denied: the time of the decision', { ...request, status: 'denied' as const, decidedAt: 20 }, { label: '', at: 20 }],
    ['revoked: Revoked and when', { ...request, status: 'revoked' as const, decidedAt: 20, revokedAt: 30 }, { label: 'Revoked', at: 30 }],
  ])('the API page area: %s', (_state, row, decided) => {
    expect(areaRequest(row).decided).toEqual(decided);
  });
});

describe('the error page: its heading by status', () => {
  it.each([
    [404, 'Not found'],
    [403, 'Not allowed'],
    [429, 'Please wait'],
    [500, 'Something went wrong'],
    [503, 'Something went wrong'],
    [400, 'That did not work'],
    [409, 'That did not work'],
  ])('%i: %s', (status, heading) => {
    expect(errorHeading(status)).toBe(heading);
  });
});
