// Child process for `npm run bench`: panva's oidc-provider 9 as the peer to beat. client_credentials
// grant, a static client (client_secret_basic), JWT access tokens signed ES256 through resource
// indicators, mounted in Express 5 like our own app. Prints one JSON line when ready.
'use strict';
const http = require('node:http');
const { generateKeyPairSync } = require('node:crypto');
const express = require('express');

(async () => {
  const { default: Provider } = await import('oidc-provider');
  const port = Number(process.argv[2]);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'ES256', use: 'sig' };
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      {
        client_id: 'bench-client',
        client_secret: 'bench-secret-0123456789abcdefghijklmnop',
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
  const server = http.createServer(app);
  server.keepAliveTimeout = 30_000;
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ ready: true, port, clientId: 'bench-client', clientSecret: 'bench-secret-0123456789abcdefghijklmnop' }) + '\n');
  });
  process.on('SIGTERM', () => process.exit(0));
})();
