import 'express-session';

declare module 'express-session' {
  interface SessionData {
    userId?: number;
    signedInAt?: number;
    /** When the person last proved who they are (sign-in, re-authentication), epoch ms from the injected clock. */
    checkedAt?: number;
    /**
     * A correct password from a user with a second factor: not signed in yet (no access to anything)
     * until /sign-in/second-factor accepts a code; it lapses after a few minutes.
     */
    pendingSignIn?: { userId: number; startedAt: number; next: string };
    flash?: { kind: 'success' | 'info' | 'warning' | 'error'; message: string }[];
    csrfToken?: string;
    /** A documentation session opened by a personal link (docs_links.id); re-checked on every request. */
    docsLinkId?: number;
    /** When the user last proved who they are (a sign-in; later, a re-authentication), by the clock. */
    checkedAt?: number;
    /** The passkey ceremony under way: its challenge, single-use, for this purpose and user, until expiresAt. */
    passkeyChallenge?: { challenge: string; purpose: 'register' | 'sign-in' | 'second-factor'; userId: number | null; expiresAt: number };
  }
}
