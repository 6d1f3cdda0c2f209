import type { Express } from 'express';

/**
 * Shutdown hooks: features that keep timers or memory (last-used times, the mail worker, the
 * credential sweeper) register here; the server calls closeApp() on SIGTERM, tests after each file.
 */
export function onClose(app: Express, hook: () => void): void {
  const hooks = (app.locals.closeHooks ??= []) as (() => void)[];
  hooks.push(hook);
}

export function closeApp(app: Express): void {
  const hooks = (app.locals.closeHooks ?? []) as (() => void)[];
  app.locals.closeHooks = [];
  for (const hook of hooks.reverse()) hook();
}
