export interface Page {
  page: number; // 1-based, clamped to the last page
  pages: number;
  offset: number;
  limit: number;
}

/** One way to page a list: a requested page past the end shows the last one. */
export function paginate(total: number, requested: number, size: number): Page {
  const pages = Math.max(1, Math.ceil(total / size));
  const page = Math.min(Math.max(1, requested), pages);
  return { page, pages, offset: (page - 1) * size, limit: size };
}
