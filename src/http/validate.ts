import type { z } from 'zod';
import { badRequest } from './errors';

export type FieldErrors = Record<string, string>;

export type Validated<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors; values: Record<string, string> };

/** Flattens a submitted body into plain strings so a failed form can be re-rendered with what was typed. */
export function submittedValues(body: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  if (body && typeof body === 'object') {
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      // Cut short and without control characters (a NUL in HTML is a parse error): it is only echoed back.
      if (typeof value === 'string') values[key] = value.slice(0, 1000).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
    }
  }
  return values;
}

/** Validates input with a schema; returns the first message for each field, kind to read. */
export function validate<S extends z.ZodType>(schema: S, input: unknown): Validated<z.infer<S>> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return { ok: true, data: result.data };
  const errors: FieldErrors = {};
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? '_form');
    if (!(field in errors)) errors[field] = issue.message;
  }
  return { ok: false, errors, values: submittedValues(input) };
}

/** For inputs that are not a form a person fills in (query strings, ids): 400 on failure. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = validate(schema, input);
  if (!result.ok) {
    const [field, message] = Object.entries(result.errors)[0] ?? ['input', 'is invalid'];
    throw badRequest(`${field}: ${message}`);
  }
  return result.data;
}
