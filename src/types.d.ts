import 'express-session';

declare module 'express-session' {
  interface SessionData {
    userId?: number;
    signedInAt?: number;
    /** When the person last proved who they are (sign-in, re-authentication), epoch ms from the injected clock. */
    checkedAt?: number;
    flash?: { kind: 'success' | 'info' | 'warning' | 'error'; message: string }[];
    csrfToken?: string;
    /** A documentation session opened by a personal link (docs_links.id); re-checked on every request. */
    docsLinkId?: number;
  }
}
