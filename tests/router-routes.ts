import type { Express } from 'express';

/** Helpers for the tests generated from the router (the access matrix, the CSRF matrix). */

interface RouteLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouteLayer[] };
  rawPath?: string | string[];
}

/** Every `METHOD path` the app routes: the fast path's, then those walked from Express 5's router (router 2: layer.route, layer.handle.stack, layer.rawPath). */
export function listRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: RouteLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const methods = Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m]);
        for (const p of ([] as string[]).concat(layer.route.path)) {
          for (const m of methods) found.push(`${m === '_all' ? 'ALL' : m.toUpperCase()} ${prefix}${p}`);
        }
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        if (Array.isArray(layer.rawPath)) throw new Error('a router mounted on several paths: extend listRoutes()');
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  // The platform's hot endpoints answer before Express (src/platform/fast-path.ts): listed by the app.
  const fastRoutes = (app.locals.fastRoutes ?? []) as string[];
  walk((app as unknown as { router: { stack: RouteLayer[] } }).router.stack, '');
  return [...fastRoutes, ...found];
}
