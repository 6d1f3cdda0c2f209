// Types of provision-test-tools.js, for its unit test.
export interface Tool {
  package: string;
  programs: string[];
  neededBy: string;
}

export interface MachineFacts {
  tools?: Tool[];
  has: (program: string) => boolean;
  isRoot: boolean;
  canSudo: () => boolean;
  /** sudo is installed (whether or not it asks for a password). */
  hasSudo: boolean;
  hasAptGet: boolean;
  policyExists: boolean;
}

export interface Plan {
  missing: string[];
  steps?: string[][];
  cleanup?: string[][];
  error?: string;
}

export const TOOLS: Tool[];
export function planProvisioning(facts: MachineFacts): Plan;
export function programExists(program: string, env?: NodeJS.ProcessEnv): boolean;
