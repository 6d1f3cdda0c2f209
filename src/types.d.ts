import 'express-session';

declare module 'express-session' {
  interface SessionData {
    userId?: number;
    signedInAt?: number;
    flash?: { kind: 'success' | 'info' | 'warning' | 'error'; message: string }[];
    csrfToken?: string;
  }
}
