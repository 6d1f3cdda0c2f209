import type { IncomingMessage } from 'node:http';
import { invalidRequest, payloadTooLarge } from '../errors';

export const FORM_LIMIT_BYTES = 8 * 1024;

/**
 * Reads an application/x-www-form-urlencoded body (the only kind OAuth endpoints accept, RFC 6749
 * 3.2), size-limited, with every parameter at most once. Small and strict on purpose: these are the
 * hottest POST routes and they never need nested or JSON bodies.
 */
export function readForm(req: IncomingMessage, limit = FORM_LIMIT_BYTES): Promise<Record<string, string>> {
  const type = req.headers['content-type'];
  const mime = type?.split(';', 1)[0].trim().toLowerCase();
  if (mime !== 'application/x-www-form-urlencoded') {
    return Promise.reject(invalidRequest('The request body must be application/x-www-form-urlencoded.'));
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(type!)?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return Promise.reject(invalidRequest('The request body must be UTF-8.'));
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(payloadTooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        req.resume(); // drain the rest; the answer is already decided
        reject(payloadTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      try {
        resolve(parseForm(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
  });
}

export function parseForm(body: string): Record<string, string> {
  const form: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in form) throw invalidRequest(`The parameter ${JSON.stringify(name.slice(0, 40))} must not be repeated.`);
    form[name] = value;
  }
  return form;
}
