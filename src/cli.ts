import type { CliCommand } from './cli/command';
import { EXIT } from './cli/command';
import { ConfigError } from './config';
import { restrictNewFiles } from './data-dir';
import { rotateSigningKeyCommand } from './platform/signing-keys/cli';
import { cliCommand, opsCommands } from './ops/commands';

/**
 * Operator commands: `npm run cli -- <command> [args]`. Each command is one entry here; it reads the
 * same environment (DATA_DIR, ...) as the server and works on the same database, also while it runs.
 */
const COMMANDS: Record<string, CliCommand> = {
  'rotate-signing-key': rotateSigningKeyCommand,
  ...Object.fromEntries(opsCommands.map((cmd) => [cmd.name, cliCommand(cmd)])),
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`);
  return [
    'Usage: npm run cli -- <command> [arguments]',
    '       node dist/src/cli.js <command> [arguments]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options:',
    `  ${'--help'.padEnd(width)}  Show this help, or a command's usage: <command> --help`,
    '',
    'The environment is read as by the server (DATABASE_URL, DATA_DIR, ACCESS_TOKEN_TTL, ...).',
  ].join('\n');
}

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? process.stderr : process.stdout).write(`${help()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`Unknown command "${name}".\n\n${help()}\n`);
    return EXIT.usage;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      `Usage: npm run cli -- ${name}${command.usage ? ` ${command.usage}` : ''}\n\n${command.summary}\n${command.details ? `\n${command.details}\n` : ''}`,
    );
    return EXIT.ok;
  }
  try {
    return await command.run(args);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.config;
    }
    process.stderr.write(`${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failure;
  }
}

if (require.main === module) {
  restrictNewFiles(); // backups, and a DATA_DIR or session secret made by a command: owner only
  // runCli catches and reports every failure itself, so its promise never rejects.
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
