// Reference: panva's oidc-provider 9 as the peer to beat. client_credentials grant, a static
// client (client_secret_basic), JWT access tokens signed ES256 through resource indicators,
// mounted in Express 5 like our own app.
'use strict';
const { generateKeyPairSync } = require('node:crypto');
const express = require('express');
const { listen } = require('./listen');
const { OIDC_CLIENT } = require('./clients');

(async () => {
  const { default: Provider } = await import('oidc-provider');
  const port = Number(process.argv[2]);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256', use: 'sig' };
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: OIDC_CLIENT.id,
        client_secret: OIDC_CLIENT.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'claims:read',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk] },
    scopes: ['claims:read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:bench:api',
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'claims:read',
          audience: 'urn:bench:api',
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`oidc-provider error: ${err.message}\n`));
  const app = express();
  app.disable('x-powered-by');
  app.use(provider.callback());
  listen(app);
})();
