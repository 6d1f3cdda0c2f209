import http from 'node:http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long the server keeps answering (each answer with `Connection: close`) before it stops listening. */
export const DRAIN_GRACE_MS = 1_000;
/** After this, connections still busy are cut so that the process always ends (docker stop waits 10 s). */
export const FORCE_AFTER_MS = 8_000;

export interface GracefulServer {
  server: http.Server;
  isDraining(): boolean;
  /** Starts the shutdown; `onStopped` runs once every connection is closed (or cut after FORCE_AFTER_MS). */
  shutdown: (onStopped: (forced: boolean) => void) => void;
}

/**
 * An HTTP server that stops without resetting a connection. On shutdown it first drains: every
 * answer carries `Connection: close` (so keep-alive clients open no further request on that
 * connection) and /healthz answers 503 (so a load balancer stops sending). After a short grace it
 * stops listening and closes the connections that are idle; busy ones close after their answer.
 * Closing an idle keep-alive connection at once is what resets a client that was just sending on it.
 */
export function createGracefulServer(app: RequestListener, options: { graceMs?: number; forceAfterMs?: number } = {}): GracefulServer {
  let draining = false;
  /**
   * Each open connection's latest answer: one Map entry per request instead of a listener on every
   * answer. A pipelined request replaces the one before it, and closing after the last is what counts.
   */
  const latest = new Map<Socket, ServerResponse>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    latest.set(req.socket, res);
    if (draining) {
      res.setHeader('Connection', 'close');
      if (req.url === '/healthz' || req.url?.startsWith('/healthz?')) {
        res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify({ status: 'draining' }));
        return;
      }
    }
    app(req, res);
  };
  const server = http.createServer(handler);
  server.on('connection', (socket: Socket) => socket.once('close', () => latest.delete(socket)));

  return {
    server,
    isDraining: () => draining,
    shutdown(onStopped) {
      if (draining) return;
      draining = true;
      // Answers already being worked on close their connection too, when their headers are not out yet.
      for (const res of latest.values()) if (!res.headersSent) res.setHeader('Connection', 'close');
      let forced = false;
      const force = setTimeout(() => {
        forced = true;
        server.closeAllConnections();
      }, options.forceAfterMs ?? FORCE_AFTER_MS);
      force.unref();
      setTimeout(() => {
        server.close(() => {
          clearTimeout(force);
          onStopped(forced);
        });
        // close() ends idle connections; those that go idle later are ended here, as they do.
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        sweep.unref();
        server.once('close', () => clearInterval(sweep));
      }, options.graceMs ?? DRAIN_GRACE_MS).unref();
    },
  };
}
