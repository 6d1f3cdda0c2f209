/** One operator command of `npm run cli -- <name> [args]`. */
export interface CliCommand {
  /** One line for `--help`. */
  summary: string;
  /** Arguments, for `<name> --help` (empty when it takes none). */
  usage?: string;
  /** What the command does, in a few lines, for `<name> --help`. */
  details?: string;
  /** Returns the process exit code; writes its own output. */
  run(args: string[]): Promise<number> | number;
}

/** Exit codes from sysexits.h, so scripts can tell a typo from a failure. */
export const EXIT = { ok: 0, failure: 1, usage: 64, config: 78 } as const;
