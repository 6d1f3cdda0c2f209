// Reference: the least a correct client_credentials token endpoint must do, written by hand in
// Express 5. Parse the form, read client_secret_basic (RFC 6749 2.3.1), compare SHA-256 of the
// secret with one stored digest in constant time, sign an RFC 9068 JWT with ES256 through
// node:crypto (the key object built once). No database: the floor our endpoint is measured against.
'use strict';
const nodeCrypto = require('node:crypto');
const express = require('express');
const { listen } = require('./listen');
const { IDEAL_CLIENT } = require('./clients');

const ORIGIN = `http://127.0.0.1:${process.argv[2]}`;
const TTL_SECONDS = 3600;
const SCOPE = 'claims:read';
const sha256 = (text) => nodeCrypto.createHash('sha256').update(text).digest();
const storedDigest = sha256(IDEAL_CLIENT.secret);
const { privateKey } = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const encodedHeader = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: 'ideal' })).toString('base64url');

/** { id, secret } from `Authorization: Basic`, each part form-urlencoded; undefined when malformed. */
function basicCredentials(header) {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header || '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const formDecode = (part) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

function signAccessToken(clientId) {
  const iat = Math.floor(Date.now() / 1000);
  const claims = { iss: ORIGIN, sub: clientId, aud: ORIGIN, client_id: clientId, scope: SCOPE, iat, exp: iat + TTL_SECONDS, jti: nodeCrypto.randomUUID() };
  const signingInput = `${encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = nodeCrypto.sign('sha256', Buffer.from(signingInput), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false); // an answer that must not be cached has no use for an ETag
app.post('/token', express.urlencoded({ extended: false }), (req, res) => {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  if (req.body?.grant_type !== 'client_credentials') {
    res.status(400).json({ error: 'unsupported_grant_type' });
    return;
  }
  const client = basicCredentials(req.headers.authorization);
  const valid = client !== undefined && client.id === IDEAL_CLIENT.id && nodeCrypto.timingSafeEqual(sha256(client.secret), storedDigest);
  if (!valid) {
    res.status(401).set('WWW-Authenticate', 'Basic realm="token"').json({ error: 'invalid_client' });
    return;
  }
  const accessToken = signAccessToken(client.id);
  res.json({ access_token: accessToken, token_type: 'Bearer', expires_in: TTL_SECONDS, scope: SCOPE });
});
listen(app);
