import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MachineFacts } from '../scripts/provision-test-tools';
import { TOOLS, planProvisioning, programExists } from '../scripts/provision-test-tools';

/** The table's chromium and nginx lines: the plan's rules are shown on these two (postgresql's and prometheus's lines are checked below). */
const BROWSER_AND_NGINX = TOOLS.filter((t) => t.package === 'chromium' || t.package === 'nginx');
const POSTGRES = '/usr/lib/postgresql/*/bin/postgres';

/** A machine where only `installed` programs exist; the other facts as given. */
function machine(installed: string[], facts: Partial<MachineFacts> = {}): MachineFacts & { tools: typeof TOOLS } {
  return {
    tools: BROWSER_AND_NGINX,
    has: (program) => installed.includes(program),
    isRoot: true,
    canSudo: () => {
      throw new Error('sudo was asked although nothing needed it');
    },
    hasSudo: true,
    hasAptGet: true,
    policyExists: false,
    ...facts,
  };
}

const APT = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get'];
const FORBID = ['sh', '-c', "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d"];

describe('scripts/provision-test-tools.js (run by npm test before Jest)', () => {
  it('declares chromium, nginx, postgresql and prometheus, each with the program the tests run', () => {
    expect(TOOLS.map((t) => [t.package, t.programs])).toEqual([
      ['chromium', ['/usr/bin/chromium']],
      ['nginx', ['nginx']],
      ['postgresql', [POSTGRES]],
      ['prometheus', ['prometheus']],
    ]);
  });

  it('does nothing when every program is there: no apt-get, no sudo question', () => {
    expect(planProvisioning({ ...machine(['/usr/bin/chromium', 'nginx', POSTGRES, 'prometheus'], { isRoot: false }), tools: TOOLS })).toEqual({ missing: [] });
  });

  it('as root, installs only what is missing, with services kept from starting, and removes its policy-rc.d afterwards', () => {
    expect(planProvisioning(machine(['/usr/bin/chromium']))).toEqual({
      missing: ['nginx'],
      steps: [FORBID, [...APT, 'update', '-q'], [...APT, 'install', '-y', '-q', 'nginx']],
      cleanup: [['rm', '-f', '/usr/sbin/policy-rc.d']],
    });
  });

  it('leaves an existing policy-rc.d alone', () => {
    expect(planProvisioning(machine([], { policyExists: true }))).toEqual({
      missing: ['chromium', 'nginx'],
      steps: [
        [...APT, 'update', '-q'],
        [...APT, 'install', '-y', '-q', 'chromium', 'nginx'],
      ],
      cleanup: [],
    });
  });

  it('with passwordless sudo, runs every command through sudo -n', () => {
    const plan = planProvisioning(machine(['nginx'], { isRoot: false, canSudo: () => true }));
    expect(plan.missing).toEqual(['chromium']);
    expect(plan.steps).toEqual([
      ['sudo', '-n', ...FORBID],
      ['sudo', '-n', ...APT, 'update', '-q'],
      ['sudo', '-n', ...APT, 'install', '-y', '-q', 'chromium'],
    ]);
    expect(plan.cleanup).toEqual([['sudo', '-n', 'rm', '-f', '/usr/sbin/policy-rc.d']]);
  });

  it('without root or passwordless sudo, runs nothing and says the exact command to run', () => {
    const plan = planProvisioning(machine([], { isRoot: false, canSudo: () => false }));
    expect(plan.steps).toBeUndefined();
    expect(plan.missing).toEqual(['chromium', 'nginx']);
    expect(plan.error).toBe(
      [
        'The tests need chromium (for the browser tests (tests/browser)) and nginx (for the forward-auth test (tests/nginx-forward-auth.test.ts)), which is not installed. This run cannot install it: it runs neither as root nor with passwordless sudo.',
        'Install it, then run npm test again:',
        '',
        '  sudo apt-get update && sudo apt-get install -y chromium nginx',
      ].join('\n'),
    );
  });

  it('without root, passwordless sudo or sudo at all, says the exact command to run as root through su', () => {
    const plan = planProvisioning(machine(['/usr/bin/chromium'], { isRoot: false, canSudo: () => false, hasSudo: false }));
    expect(plan.steps).toBeUndefined();
    expect(plan.error?.split('\n').slice(-2)).toEqual(['', "  su -c 'apt-get update && apt-get install -y nginx'"]);
  });

  it('without apt-get, names the packages to install', () => {
    const plan = planProvisioning(machine(['/usr/bin/chromium'], { hasAptGet: false }));
    expect(plan.steps).toBeUndefined();
    expect(plan.error).toBe(
      'The tests need nginx (for the forward-auth test (tests/nginx-forward-auth.test.ts)), which is not installed, and this machine has no apt-get to install it. Install nginx with its package manager, then run npm test again.',
    );
  });

  it('postgresql is checked like the others (a program path with a version folder)', () => {
    const plan = planProvisioning({ ...machine(['/usr/bin/chromium', 'nginx', 'prometheus'], { policyExists: true }), tools: TOOLS });
    expect(plan.steps).toEqual([
      [...APT, 'update', '-q'],
      [...APT, 'install', '-y', '-q', 'postgresql'],
    ]);
  });

  it('prometheus is checked like the others (a bare program name)', () => {
    const plan = planProvisioning({ ...machine(['/usr/bin/chromium', 'nginx', POSTGRES], { policyExists: true }), tools: TOOLS });
    expect(plan.steps).toEqual([
      [...APT, 'update', '-q'],
      [...APT, 'install', '-y', '-q', 'prometheus'],
    ]);
  });

  describe('programExists', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'provision-'));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('finds a bare name on PATH, an absolute path, and a path through one version folder; never a file that is not executable', () => {
      fs.mkdirSync(path.join(dir, '16', 'bin'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
      fs.writeFileSync(path.join(dir, 'plain'), 'data', { mode: 0o644 });
      fs.writeFileSync(path.join(dir, '16', 'bin', 'postgres'), '#!/bin/sh\n', { mode: 0o755 });
      expect(programExists('tool', { PATH: dir })).toBe(true);
      expect(programExists('plain', { PATH: dir })).toBe(false);
      expect(programExists('no-such-tool-here', { PATH: dir })).toBe(false);
      expect(programExists(path.join(dir, 'tool'))).toBe(true);
      expect(programExists(path.join(dir, '*', 'bin', 'postgres'))).toBe(true);
      expect(programExists(path.join(dir, '*', 'bin', 'pg_ctl'))).toBe(false);
    });
  });
});
