import nunjucks from 'nunjucks';
import { VIEWS_DIR } from '../../paths';
import { registerFilters } from '../../views';

export type CredentialKindName = 'basic' | 'oauth';

/** What each message says; the templates in views/mail/<kind>.{txt,html}.njk get exactly this. */
export interface MailModels {
  invitation: { companyName: string; inviter: string; link: string; expiresAt: number };
  access_granted: { companyName: string; email: string; link: string; expiresAt: number; message: string | null; docsUrl: string };
  access_denied: { companyName: string; email: string; message: string | null };
  credential_saved: {
    companyName: string;
    credentialKind: CredentialKindName;
    identifier: string;
    secretPrefix: string;
    actor: string;
    at: number;
    replaced: { identifier: string; secretPrefix: string; retiresAt: number | null } | null;
    consoleUrl: string | null;
  };
  credential_revoked: {
    companyName: string;
    credentialKind: CredentialKindName;
    identifier: string;
    secretPrefix: string;
    actor: string;
    at: number;
    reason: string | null;
    consoleUrl: string | null;
  };
}
export type MailKind = keyof MailModels;

const KIND_LABEL: Record<CredentialKindName, string> = { basic: 'Basic Auth API key', oauth: 'OAuth 2.0 client credentials' };

const SUBJECTS: { [K in MailKind]: (model: MailModels[K]) => string } = {
  invitation: (m) => `You are invited to manage API credentials for ${m.companyName}`,
  access_granted: () => 'Your access to the OAuth 2.0 API documentation',
  access_denied: () => 'Your request for the OAuth 2.0 API documentation',
  credential_saved: (m) => `New ${KIND_LABEL[m.credentialKind]} saved for ${m.companyName}`,
  credential_revoked: (m) => `${KIND_LABEL[m.credentialKind]} revoked for ${m.companyName}`,
};

function environment(autoescape: boolean): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR), { autoescape, throwOnUndefined: false });
  registerFilters(env);
  env.addGlobal('kindLabel', KIND_LABEL);
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

/** Subject (one line), plain-text and HTML parts of a message of this kind. */
export function renderMail<K extends MailKind>(kind: K, model: MailModels[K]): RenderedMail {
  const subject = SUBJECTS[kind](model)
    .replace(/[\r\n]+/g, ' ')
    .slice(0, 200);
  return {
    subject,
    text: textEnv.render(`mail/${kind}.txt.njk`, { ...model, subject }),
    html: htmlEnv.render(`mail/${kind}.html.njk`, { ...model, subject }),
  };
}
