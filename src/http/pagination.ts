import type { z } from 'zod';
import type { FieldErrors } from './validate';
import { validate } from './validate';

export interface Page {
  total: number;
  page: number; // 1-based, clamped to the last page
  pages: number;
  offset: number;
  limit: number;
}

/** One way to page a list: a requested page past the end shows the last one. */
export function paginate(total: number, requested: number, size: number): Page {
  const pages = Math.max(1, Math.ceil(total / size));
  const page = Math.min(Math.max(1, requested), pages);
  return { total, page, pages, offset: (page - 1) * size, limit: size };
}

/** A filtered list's query string, read once. */
export interface ListQuery<Q> {
  /** The filter as checked; when it was refused, the schema's defaults (no filter, the first page). */
  query: Q;
  /** 422 when the filter was refused: the page then lists everything and says why, by the filter. */
  status: 200 | 422;
  /** What the filter form shows again: the checked values, or what was typed when refused. */
  values: Record<string, unknown>;
  errors: FieldErrors;
  /** The applied filter as a query string, without the page and any default: pager and export links keep it. */
  search: string;
}

/** Reads a list page's filter and page number; a refused filter is shown, not ignored in silence. */
export function listQuery<S extends z.ZodType<{ page: number }>>(schema: S, input: unknown): ListQuery<z.output<S>> {
  const defaults = schema.parse({});
  const parsed = validate(schema, input);
  if (!parsed.ok) return { query: defaults, status: 422, values: parsed.values, errors: parsed.errors, search: '' };
  const params = new URLSearchParams();
  // List filters are flat: strings, numbers and booleans.
  for (const [key, value] of Object.entries(parsed.data as Record<string, string | number | boolean | undefined>)) {
    if (key === 'page' || value === undefined || value === (defaults as Record<string, unknown>)[key]) continue;
    params.set(key, String(value));
  }
  return { query: parsed.data, status: 200, values: { ...parsed.data }, errors: {}, search: params.toString() };
}

/** What a list calls its items and its pager links. */
export interface ListWords {
  one: string;
  many: string;
  previous: string;
  next: string;
}

/** A log shown newest first pages back to older entries. */
export const NEWEST_FIRST = { previous: 'Newer', next: 'Older' } as const;
export const IN_ORDER = { previous: 'Previous', next: 'Next' } as const;

/** The model of views/partials/pager.njk, and the list's count in words ("1 entry", "3 entries"). */
export interface Pager {
  path: string;
  search: string;
  page: number;
  pages: number;
  previousLabel: string;
  nextLabel: string;
  totalLabel: string;
}

export function pager(path: string, search: string, at: { total: number; page: number; pages: number }, words: ListWords): Pager {
  return {
    path,
    search,
    page: at.page,
    pages: at.pages,
    previousLabel: words.previous,
    nextLabel: words.next,
    totalLabel: `${at.total} ${at.total === 1 ? words.one : words.many}`,
  };
}
