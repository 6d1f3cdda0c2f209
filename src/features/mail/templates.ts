import nunjucks from 'nunjucks';
import { VIEWS_DIR } from '../../paths';
import { registerFilters } from '../../views';

export type CredentialKindName = 'basic' | 'oauth';

/** What every message about a credential names: never its secret, only the identifier and public prefix. */
export interface CredentialAbout {
  companyName: string;
  credentialKind: CredentialKindName;
  identifier: string;
  secretPrefix: string;
  /** The API page, for the administrator's next step. */
  consoleUrl: string | null;
}

/** What each message says; the templates in views/mail/<kind>.{txt,html}.njk get this, with the words of a credential's kind. */
export interface MailModels {
  invitation: { companyName: string; inviter: string; link: string; expiresAt: number };
  access_granted: { companyName: string; email: string; link: string; expiresAt: number; message: string | null; docsUrl: string };
  access_denied: { companyName: string; email: string; message: string | null };
  credential_saved: CredentialAbout & {
    actor: string;
    at: number;
    replaced: { identifier: string; secretPrefix: string; retiresAt: number | null } | null;
  };
  credential_revoked: CredentialAbout & { actor: string; at: number; reason: string | null };
  credential_expiring: CredentialAbout & { expiresAt: number; daysLeft: number };
  credential_overlap_ended: CredentialAbout & { actor: string; at: number; plannedEnd: number | null };
  credential_leaked: CredentialAbout & {
    at: number;
    /** Where the reporter found it, as they sent it (shown as text, never as a link: anyone can report). */
    url: string | null;
    /** true: revoked at once (the company's policy); false: only reported, it still works. */
    revoked: boolean;
  };
  /** A change to the sign-in security of the recipient's own account (second factors, issue 13). */
  security_notice: { headline: string; what: string; actor: string; at: number; ip: string | null; advice: string; consoleUrl: string };
  passkey_added: PasskeyNotice;
  passkey_removed: PasskeyNotice;
}
/** A passkey added to, or removed from, the account the message goes to. */
export interface PasskeyNotice {
  email: string;
  passkeyName: string;
  actor: string;
  at: number;
  /** The account's passkeys page, when the deployment's public URL is known. */
  pageUrl: string | null;
}
export type MailKind = keyof MailModels;

/** A credential notice's words for its kind, given to its templates as kindLabel and idLabel. */
const KIND_WORDS: Record<CredentialKindName, { kindLabel: string; idLabel: string }> = {
  basic: { kindLabel: 'Basic Auth API key', idLabel: 'Username' },
  oauth: { kindLabel: 'OAuth 2.0 client credentials', idLabel: 'Client ID' },
};

const SUBJECTS: { [K in MailKind]: (model: MailModels[K]) => string } = {
  invitation: (m) => `You are invited to manage API credentials for ${m.companyName}`,
  access_granted: () => 'Your access to the OAuth 2.0 API documentation',
  access_denied: () => 'Your request for the OAuth 2.0 API documentation',
  credential_saved: (m) => `New ${KIND_WORDS[m.credentialKind].kindLabel} saved for ${m.companyName}`,
  credential_revoked: (m) => `${KIND_WORDS[m.credentialKind].kindLabel} revoked for ${m.companyName}`,
  security_notice: (m) => m.headline,
  passkey_added: () => 'A passkey was added to your API console account',
  passkey_removed: () => 'A passkey was removed from your API console account',
  credential_expiring: (m) => `${KIND_WORDS[m.credentialKind].kindLabel} of ${m.companyName} expires in ${m.daysLeft} day${m.daysLeft === 1 ? '' : 's'}`,
  credential_overlap_ended: (m) => `Overlap ended early: ${KIND_WORDS[m.credentialKind].kindLabel} replaced for ${m.companyName}`,
  credential_leaked: (m) => `${KIND_WORDS[m.credentialKind].kindLabel} reported as leaked${m.revoked ? ' and revoked' : ''} for ${m.companyName}`,
};

function environment(autoescape: boolean): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR), { autoescape, throwOnUndefined: false });
  registerFilters(env);
  return env;
}

// HTML parts escape every value; plain-text parts must not (an "&amp;" in a text mail is a bug).
const htmlEnv = environment(true);
const textEnv = environment(false);

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** The words of a credential notice's kind; other messages have none. */
function kindWords(model: object): { kindLabel?: string; idLabel?: string } {
  const kind = (model as { credentialKind?: CredentialKindName }).credentialKind;
  return kind === undefined ? {} : KIND_WORDS[kind];
}

/** Subject (one line), plain-text and HTML parts of a message of this kind. */
export function renderMail<K extends MailKind>(kind: K, model: MailModels[K]): RenderedMail {
  const subject = SUBJECTS[kind](model)
    .replace(/[\r\n]+/g, ' ')
    .slice(0, 200);
  const view = { ...model, ...kindWords(model), subject };
  return {
    subject,
    text: textEnv.render(`mail/${kind}.txt.njk`, view),
    html: htmlEnv.render(`mail/${kind}.html.njk`, view),
  };
}
