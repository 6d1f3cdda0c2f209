import pino from 'pino';

export type Logger = pino.Logger;

/**
 * JSON logs to stdout. Never pass a secret to the logger; the redaction below is a second line of
 * defence for the fields that could carry one.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['password', '*.password', 'secret', '*.secret', 'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
