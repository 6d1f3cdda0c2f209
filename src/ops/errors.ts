/** A refusal or failure an operator can act on: the CLI prints the message and exits with 1 (no stack). */
export class OpsError extends Error {}

/** Bad arguments: the CLI prints the message and the command's usage, and exits with 64 (EX_USAGE). */
export class UsageError extends Error {}
