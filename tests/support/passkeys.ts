import { createTestContext, seedCompany } from '../helpers';
import type { Agent, TestContext } from '../helpers';
import { SoftAuthenticator } from './soft-authenticator';

/** Shared by the passkey tests: a fresh world with company A's administrator, and a software authenticator for this site. */

export const ORIGIN = 'http://127.0.0.1:3000'; // the test context's PUBLIC_URL

/** A JSON POST as the page script sends it (the CSRF token in its header). */
export const json = (agent: Agent, url: string, body: object) => agent.post(url).set('X-CSRF-Token', agent.csrf).send(body);

export interface PasskeyWorld {
  ctx: TestContext;
  admin: { companyId: number; userId: number };
  authenticator: SoftAuthenticator;
}

export async function passkeyWorld(): Promise<PasskeyWorld> {
  const ctx = createTestContext();
  const admin = await seedCompany(ctx, 'Company A', 'admin@a.test');
  return { ctx, admin, authenticator: new SoftAuthenticator(ORIGIN, '127.0.0.1') };
}

/** A fresh world for each test of the describe block that calls this (its fields are set before each test). */
export function eachPasskeyWorld(): PasskeyWorld {
  const world = {} as PasskeyWorld;
  beforeEach(async () => {
    Object.assign(world, await passkeyWorld());
  });
  afterEach(() => world.ctx.close());
  return world;
}

/** Adds a passkey for the signed-in agent through both steps of the passkeys page; returns its credential id. */
export async function addPasskeyWith(authenticator: SoftAuthenticator, agent: Agent, name = 'Work laptop'): Promise<string> {
  const options = await json(agent, '/account/passkeys/options', { name });
  expect(options.status).toBe(200);
  const response = authenticator.register(options.body as { challenge: string });
  const res = await json(agent, '/account/passkeys', { name, response });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ redirect: '/account/passkeys' });
  return response.id;
}
