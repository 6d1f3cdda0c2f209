import type { Express } from 'express';

type CloseHook = () => void | Promise<void>;

/**
 * Shutdown hooks: features that keep timers or memory (last-used times, the mail worker, the
 * credential sweeper) register here; the server calls closeApp() on SIGTERM, tests after each file.
 * Hooks run last-registered first, one after another, and may be async (a final flush to the database).
 */
export function onClose(app: Express, hook: CloseHook): void {
  const hooks = (app.locals.closeHooks ??= []) as CloseHook[];
  hooks.push(hook);
}

export async function closeApp(app: Express): Promise<void> {
  const hooks = (app.locals.closeHooks ?? []) as CloseHook[];
  app.locals.closeHooks = [];
  for (const hook of hooks.reverse()) await hook();
}
