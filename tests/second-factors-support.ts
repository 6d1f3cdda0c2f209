import { Secret, TOTP } from 'otpauth';
import type { Express } from 'express';
import { anonymousAgent, csrfFrom, PASSWORD } from './helpers';
import type { Agent } from './helpers';

/** Helpers for the second-factor tests: codes computed here with otpauth, from the key the enrolment page shows. */

/** The key for typing in, as the enrolment page shows it (grouped by four), without its spaces. */
export function secretFrom(html: string): string {
  const match = /id="totp-key" type="text" value="([A-Z2-7 ]+)"/.exec(html);
  if (!match) throw new Error('no authenticator key in the page');
  return match[1].replace(/ /g, '');
}

/** The six digits an authenticator app with this key shows at `ms`. */
export function codeAt(secret: string, ms: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({ timestamp: ms });
}

/** The recovery codes a page shows once. */
export function recoveryCodesFrom(html: string): string[] {
  return [...html.matchAll(/<li>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})<\/li>/g)].map((m) => m[1]);
}

/** The factor id in the enrolment page's confirm form. */
export function enrolmentIdFrom(html: string): string {
  const match = /action="\/account\/security\/totp\/(\d+)\/confirm"/.exec(html);
  if (!match) throw new Error('no enrolment form in the page');
  return match[1];
}

/** Adds an authenticator app for the signed-in agent at the clock's time; returns its key and the recovery codes shown (first factor only). */
export async function enrolTotp(agent: Agent, now: number, name = 'Phone'): Promise<{ secret: string; recoveryCodes: string[] }> {
  const start = await agent.post('/account/security/totp').type('form').send({ _csrf: agent.csrf });
  if (start.status !== 201) throw new Error(`enrolment did not start: ${start.status}`);
  const secret = secretFrom(start.text);
  const done = await agent
    .post(`/account/security/totp/${enrolmentIdFrom(start.text)}/confirm`)
    .type('form')
    .send({ _csrf: agent.csrf, name, code: codeAt(secret, now) });
  if (done.status !== 200 && done.status !== 303) throw new Error(`enrolment not confirmed: ${done.status}`);
  return { secret, recoveryCodes: recoveryCodesFrom(done.text) };
}

/** Password first: the agent is then at the second step (not signed in). */
export async function passwordStep(app: Express, email: string, next?: string): Promise<Agent> {
  const agent = await anonymousAgent(app);
  const res = await agent
    .post('/sign-in')
    .type('form')
    .send({ _csrf: agent.csrf, email, password: PASSWORD, ...(next ? { next } : {}) });
  if (res.status !== 303 || res.headers.location !== '/sign-in/second-factor')
    throw new Error(`no second step for ${email}: ${res.status} ${res.headers.location}`);
  const page = await agent.get('/sign-in/second-factor');
  agent.csrf = csrfFrom(page.text);
  return agent;
}

/** Both steps; the agent's csrf is the signed-in session's. */
export async function signInWithCode(app: Express, email: string, code: string): Promise<Agent> {
  const agent = await passwordStep(app, email);
  const res = await agent.post('/sign-in/second-factor').type('form').send({ _csrf: agent.csrf, code });
  if (res.status !== 303) throw new Error(`second step refused for ${email}: ${res.status}`);
  agent.csrf = csrfFrom((await agent.get('/account/security')).text);
  return agent;
}

/** Signs in with the password alone, for a user the policy sends to enrolment: the agent's csrf comes from /account/security. */
export async function signInToEnrol(app: Express, email: string): Promise<Agent> {
  const agent = await anonymousAgent(app);
  const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email, password: PASSWORD });
  if (res.status !== 303) throw new Error(`sign-in failed for ${email}: ${res.status}`);
  agent.csrf = csrfFrom((await agent.get('/account/security')).text);
  return agent;
}
