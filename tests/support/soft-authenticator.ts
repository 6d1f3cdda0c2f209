import crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string): Buffer => crypto.createHash('sha256').update(data).digest();
const uint32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

// Authenticator data flags (WebAuthn 6.1): user present, user verified, attested credential data included.
const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

interface Key {
  privateKey: KeyObject;
  counter: number;
}

/**
 * A software authenticator for tests that need no browser: ES256 keys, "none" attestation, the
 * bytes a real authenticator sends (authenticator data, CBOR attestation object, client data JSON,
 * DER signature), so the server's library verifies them exactly as it would a browser's answer.
 */
export class SoftAuthenticator {
  private readonly keys = new Map<string, Key>();

  constructor(
    readonly origin: string,
    readonly rpID: string,
  ) {}

  /** The answer to navigator.credentials.create() for these options' challenge. */
  register(options: { challenge: string }, overrides: { origin?: string } = {}): RegistrationResponseJSON {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, Buffer.from(jwk.x!, 'base64url')],
        [-3, Buffer.from(jwk.y!, 'base64url')],
      ]),
    );
    const credentialId = crypto.randomBytes(16);
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(credentialId.length);
    const authData = Buffer.concat([sha256(this.rpID), Buffer.from([UP | UV | AT]), uint32(0), Buffer.alloc(16), idLength, credentialId, coseKey]);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: overrides.origin ?? this.origin, crossOrigin: false }),
    );
    const id = b64url(credentialId);
    this.keys.set(id, { privateKey, counter: 0 });
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
      clientExtensionResults: {},
    };
  }

  /** The answer to navigator.credentials.get() by the passkey `credentialId`, for these options' challenge. */
  assert(credentialId: string, options: { challenge: string }, overrides: { origin?: string; counter?: number } = {}): AuthenticationResponseJSON {
    const key = this.keys.get(credentialId);
    if (!key) throw new Error(`no passkey ${credentialId} on this authenticator`);
    key.counter = overrides.counter ?? key.counter + 1; // a given counter: a clone of the authenticator, say
    const authData = Buffer.concat([sha256(this.rpID), Buffer.from([UP | UV]), uint32(key.counter)]);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: overrides.origin ?? this.origin, crossOrigin: false }),
    );
    const signature = crypto.sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), key.privateKey);
    return {
      id: credentialId,
      rawId: credentialId,
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature) },
      clientExtensionResults: {},
    };
  }
}
