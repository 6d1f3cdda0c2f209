import type { Environment } from 'nunjucks';
import { formatUtcMinute } from './clock';

/** Filters the templates share. Times are shown in UTC with an ISO machine-readable twin. */
export function registerFilters(env: Environment): void {
  env.addFilter('datetime', (ms: number | null | undefined) => {
    return ms === null || ms === undefined ? '' : formatUtcMinute(ms);
  });
  env.addFilter('isodate', (ms: number | null | undefined) => (ms === null || ms === undefined ? '' : new Date(ms).toISOString()));
  env.addFilter('json', (value: unknown) => JSON.stringify(value));
  // The field a re-rendered form should focus: its first field with an error (not the form-wide one).
  env.addFilter('firstErrorField', (errors: Record<string, string> | undefined) => Object.keys(errors ?? {}).find((k) => k !== '_form'));
}
