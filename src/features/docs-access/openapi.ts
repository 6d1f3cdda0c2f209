/**
 * The OpenAPI 3.1 description of this deployment's platform API, built from its own PUBLIC_URL,
 * scope catalog and token lifetime. tests/docs-contract.test.ts calls every operation documented
 * here on the running app and checks status codes, headers and bodies against it.
 */
import type { Config } from '../../config';
import type { JsonSchema, OpenApiDocument, ScopeInfo } from './openapi-components';
import { NO_STORE, RETRY_AFTER, WWW_AUTHENTICATE, componentSchemas, errorResponse, header, jsonBody, schemaRef } from './openapi-components';
import { leakReportPath } from './openapi-leaks';

export type { JsonSchema, OpenApiDocument, OpenApiHeader, OpenApiOperation, OpenApiParameter, OpenApiResponse, ScopeInfo } from './openapi-components';

const CLIENT_AUTH =
  'The client authenticates with `client_secret_basic` (HTTP Basic with the Client ID and secret, each form-urlencoded first, RFC 6749 2.3.1) ' +
  'or `client_secret_post` (`client_id` and `client_secret` form fields), not both. The body is `application/x-www-form-urlencoded` (UTF-8, at most 8 KiB), each parameter once.';

function clientForm(required: Record<string, JsonSchema>, optional: Record<string, JsonSchema>): JsonSchema {
  return {
    type: 'object',
    required: Object.keys(required),
    properties: {
      ...required,
      ...optional,
      client_id: { type: 'string', description: 'With `client_secret_post` only.' },
      client_secret: { type: 'string', description: 'With `client_secret_post` only.' },
    },
  };
}

/** Builds the document for this deployment. */
export function buildOpenApi(config: Pick<Config, 'publicUrl' | 'accessTokenTtl'>, scopes: ScopeInfo[]): OpenApiDocument {
  const base = config.publicUrl;
  const ttl = config.accessTokenTtl;
  const scopeList = scopes.map((s) => s.name).join(' ');
  const firstScope = scopes[0]?.name ?? 'claims:read';
  // `{}`: no HTTP authentication, the client_id and client_secret are form fields (client_secret_post).
  const clientAuth: Record<string, string[]>[] = [{ clientSecretBasic: [] }, {}];
  const callerAuth: Record<string, string[]>[] = [{ apiKeyBasic: [] }, { bearerToken: [] }];
  const curl = (source: string) => [{ lang: 'shell', label: 'curl', source }];
  const oauthHeaders = { 'Cache-Control': NO_STORE };

  // The answers every client-authenticated endpoint shares.
  const clientErrors = {
    '401': errorResponse(
      'Client authentication failed: unknown client, wrong secret, or none sent; for a secret that was replaced, revoked or expired (unsaved, or at the end of the lifetime chosen when it was saved), `error_description` says which and when, and for a client used from an address outside its IP allowlist, that the address is not allowed.',
      ['invalid_client'],
      'Client authentication failed.',
      {
        'WWW-Authenticate': WWW_AUTHENTICATE,
        ...oauthHeaders,
      },
    ),
    '413': errorResponse('The body is larger than 8 KiB.', ['invalid_request'], 'The request body is larger than 8192 bytes.', oauthHeaders),
    '429': errorResponse(
      'Too many failed authentications from this address (unknown or malformed secrets; never replaced or revoked ones); wait and retry.',
      ['too_many_requests'],
      'Too many failed authentication attempts. Try again in 42 seconds.',
      {
        'Retry-After': RETRY_AFTER,
        ...oauthHeaders,
      },
    ),
  };
  const tokenField = { token: { type: 'string', description: 'The access token.' } };
  const hintField = { token_type_hint: { type: 'string', description: 'Optional; `access_token` is the only kind there is.' } };

  const callerUnauthorized = (extraCodes: string[] = []) =>
    errorResponse(
      'No credentials, or credentials that do not work: an unknown, revoked, replaced or expired API key (`unauthorized`; for a replaced, revoked or expired key, `error_description` and the Basic challenge say which and when), or an invalid, expired or revoked access token (`invalid_token`; for a token whose client credentials reached the end of their lifetime, `error_description` and the Bearer challenge say when).',
      ['unauthorized', 'invalid_token', ...extraCodes],
      'Authentication is required: send Authorization: Basic (API username and key) or Bearer (an access token).',
      { 'WWW-Authenticate': WWW_AUTHENTICATE, 'Cache-Control': NO_STORE },
    );

  const addressNotAllowed = errorResponse(
    'The credential works, but not from the caller’s address: the address is not in its IP allowlist (set on the API page). Behind a proxy, the address is the one the trusted proxy reports (`TRUST_PROXY`).',
    ['address_not_allowed'],
    'This API key may not be used from 203.0.113.9: the address is not in its IP allowlist.',
    { 'Cache-Control': NO_STORE },
  );

  return {
    openapi: '3.1.0',
    info: {
      title: 'Platform API',
      version: '1',
      description:
        'The OAuth 2.0 authorization server (client_credentials grant) and the API-key check that the credentials from the API page unlock. ' +
        'Use the Client ID and secret from **Generate Client Credentials** to get an access token, or the API username and key from **Generate API Key** with HTTP Basic. ' +
        'Every error body is `{"error": "...", "error_description": "..."}` (RFC 6749 section 5.2).',
    },
    servers: [{ url: base, description: 'This deployment' }],
    tags: [
      { name: 'OAuth 2.0', description: 'The authorization server: metadata, tokens, keys, introspection and revocation.' },
      { name: 'Platform API', description: 'Endpoints your credentials call.' },
      { name: 'Leak reports', description: 'For anyone who found one of our credentials where it should not be.' },
      { name: 'Forward auth', description: 'For a reverse proxy in front of your own APIs (nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth`).' },
    ],
    paths: {
      '/.well-known/oauth-authorization-server': {
        get: {
          operationId: 'getServerMetadata',
          tags: ['OAuth 2.0'],
          summary: 'Authorization server metadata',
          description: 'Issuer, endpoints, the supported grant type and client authentication methods, and the scope catalog (RFC 8414).',
          responses: { '200': { description: 'The metadata.', content: jsonBody(schemaRef('ServerMetadata')) } },
          'x-codeSamples': curl(`curl ${base}/.well-known/oauth-authorization-server`),
        },
      },
      '/oauth/token': {
        post: {
          operationId: 'requestToken',
          tags: ['OAuth 2.0'],
          summary: 'Get an access token (client_credentials)',
          description: `${CLIENT_AUTH} The optional \`scope\` narrows the token to some of the client’s scopes. No other grant, no refresh tokens. Tokens live ${ttl} seconds.`,
          security: clientAuth,
          requestBody: {
            required: true,
            content: {
              'application/x-www-form-urlencoded': {
                schema: clientForm(
                  { grant_type: { type: 'string', const: 'client_credentials', description: 'The only grant there is.' } },
                  {
                    scope: {
                      type: 'string',
                      description: `Space-separated; a subset of the client’s scopes. This deployment’s scopes: ${scopeList || '(none yet)'}.`,
                    },
                  },
                ),
                example: { grant_type: 'client_credentials', scope: firstScope },
              },
            },
          },
          responses: {
            '200': { description: 'A new access token.', headers: oauthHeaders, content: jsonBody(schemaRef('TokenResponse')) },
            '400': errorResponse(
              'The request is malformed (`invalid_request`), the grant type is not client_credentials (`unsupported_grant_type`), or a scope is not the client’s (`invalid_scope`).',
              ['invalid_request', 'unsupported_grant_type', 'invalid_scope'],
              'grant_type is required (client_credentials).',
              oauthHeaders,
            ),
            ...clientErrors,
          },
          'x-codeSamples': curl(
            `curl ${base}/oauth/token \\\n  -u "$CLIENT_ID:$CLIENT_SECRET" \\\n  -d grant_type=client_credentials \\\n  -d scope=${firstScope}`,
          ),
        },
      },
      '/.well-known/jwks.json': {
        get: {
          operationId: 'getJwks',
          tags: ['OAuth 2.0'],
          summary: 'Public signing keys',
          description:
            'Verify access tokens offline with these keys: match the token’s `kid`, check the ES256 signature, `typ: at+jwt`, `iss`, `aud` and `exp`. Re-fetch when you meet a `kid` you do not know.',
          responses: { '200': { description: 'The key set.', content: { 'application/jwk-set+json': { schema: schemaRef('JsonWebKeySet') } } } },
          'x-codeSamples': curl(`curl ${base}/.well-known/jwks.json`),
        },
      },
      '/oauth/introspect': {
        post: {
          operationId: 'introspectToken',
          tags: ['OAuth 2.0'],
          summary: 'Introspect an access token',
          description: `${CLIENT_AUTH} Answers whether a token is active and what it carries (RFC 7662). Tokens of another company are inactive.`,
          security: clientAuth,
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: clientForm(tokenField, hintField) } } },
          responses: {
            '200': { description: 'The token’s state.', headers: oauthHeaders, content: jsonBody(schemaRef('IntrospectionResponse')) },
            '400': errorResponse(
              'The `token` field is missing or the body is malformed.',
              ['invalid_request'],
              'The token parameter is required.',
              oauthHeaders,
            ),
            ...clientErrors,
          },
          'x-codeSamples': curl(`curl ${base}/oauth/introspect \\\n  -u "$CLIENT_ID:$CLIENT_SECRET" \\\n  -d token="$ACCESS_TOKEN"`),
        },
      },
      '/oauth/revoke': {
        post: {
          operationId: 'revokeToken',
          tags: ['OAuth 2.0'],
          summary: 'Revoke an access token',
          description: `${CLIENT_AUTH} A client revokes its own tokens (RFC 7009); unknown and expired tokens are answered 200 as well.`,
          security: clientAuth,
          requestBody: { required: true, content: { 'application/x-www-form-urlencoded': { schema: clientForm(tokenField, hintField) } } },
          responses: {
            '200': { description: 'Revoked, or not a token at all: the body is empty.', headers: oauthHeaders },
            '400': errorResponse(
              'The `token` field is missing (`invalid_request`), or the token belongs to another client (`unauthorized_client`).',
              ['invalid_request', 'unauthorized_client'],
              'The token parameter is required.',
              oauthHeaders,
            ),
            ...clientErrors,
          },
          'x-codeSamples': curl(`curl ${base}/oauth/revoke \\\n  -u "$CLIENT_ID:$CLIENT_SECRET" \\\n  -d token="$ACCESS_TOKEN"`),
        },
      },
      '/api/v1/me': {
        get: {
          operationId: 'getMe',
          tags: ['Platform API'],
          summary: 'Who is calling',
          description:
            'The company, the credential and its scopes. Accepts `Authorization: Basic` (API username and key) or `Authorization: Bearer` (an access token).',
          security: callerAuth,
          responses: {
            '200': { description: 'The caller.', headers: { 'Cache-Control': NO_STORE }, content: jsonBody(schemaRef('Me')) },
            '401': callerUnauthorized(),
            '403': addressNotAllowed,
            '429': errorResponse(
              'Too many failed authentications from this address (unknown or malformed keys and forged tokens; never replaced or revoked ones); wait and retry.',
              ['too_many_requests'],
              'Too many failed authentication attempts. Try again in 42 seconds.',
              {
                'Retry-After': RETRY_AFTER,
                'Cache-Control': NO_STORE,
              },
            ),
          },
          'x-codeSamples': [
            { lang: 'shell', label: 'curl (access token)', source: `curl ${base}/api/v1/me \\\n  -H "Authorization: Bearer $ACCESS_TOKEN"` },
            { lang: 'shell', label: 'curl (API key)', source: `curl ${base}/api/v1/me \\\n  -u "$API_USERNAME:$API_KEY"` },
          ],
        },
      },
      ...leakReportPath(base),
      '/auth/verify': {
        get: {
          operationId: 'verifyRequest',
          tags: ['Forward auth'],
          summary: 'Check a caller for a reverse proxy',
          description:
            'Your proxy forwards the caller’s `Authorization` header here (any HTTP method is answered the same way); 200 lets the request through with identity headers to pass on, 401 and 403 stop it. ' +
            'With `scope`, the credential must hold every scope listed. A throttled caller gets 401 with `Retry-After` (proxies treat other codes as errors).',
          security: callerAuth,
          parameters: [
            {
              name: 'scope',
              in: 'query',
              description: `Scopes the caller must hold, space-separated (for example \`${firstScope}\`).`,
              required: false,
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': {
              description: 'The caller may pass. The body is empty.',
              headers: {
                'X-Auth-Company': header('The caller’s company id.', { type: 'string', pattern: '^[0-9]+$' }),
                'X-Auth-Credential': header('The credential’s id.', { type: 'string', pattern: '^[0-9]+$' }),
                'X-Auth-Credential-Kind': header('`basic` (API key) or `oauth` (access token).', { type: 'string', enum: ['basic', 'oauth'] }),
                'X-Auth-Identifier': header('The API username or Client ID.', { type: 'string', minLength: 1 }),
                'X-Auth-Scopes': header('The caller’s scopes, space-separated.', { type: 'string' }),
                'Cache-Control': NO_STORE,
              },
            },
            '400': errorResponse('The `scope` parameter is not a valid scope list.', ['bad_request'], 'scope: "claims\\"read" is not a valid scope name.', {
              'Cache-Control': NO_STORE,
            }),
            '401': callerUnauthorized(['too_many_requests']),
            '403': errorResponse(
              'The credential works but lacks a required scope (`insufficient_scope`, with a `WWW-Authenticate` challenge naming it), or may not be used from the caller’s address (`address_not_allowed`: not in its IP allowlist).',
              ['insufficient_scope', 'address_not_allowed'],
              `This request needs the scope ${firstScope}.`,
              {
                'WWW-Authenticate': { ...WWW_AUTHENTICATE, required: false },
                'Cache-Control': NO_STORE,
              },
            ),
          },
          'x-codeSamples': [
            {
              lang: 'shell',
              label: 'curl',
              source: `curl -i "${base}/auth/verify?scope=${encodeURIComponent(firstScope)}" \\\n  -H "Authorization: Bearer $ACCESS_TOKEN"`,
            },
            {
              lang: 'nginx',
              label: 'nginx',
              source: `location /api/ {\n  auth_request /_auth;\n  auth_request_set $auth_company $upstream_http_x_auth_company;\n  proxy_set_header X-Auth-Company $auth_company;\n  proxy_pass http://your-api;\n}\nlocation = /_auth {\n  internal;\n  proxy_pass ${base}/auth/verify?scope=${encodeURIComponent(firstScope)};\n  proxy_pass_request_body off;\n  proxy_set_header Content-Length "";\n}`,
            },
          ],
        },
      },
    },
    components: {
      securitySchemes: {
        clientSecretBasic: {
          type: 'http',
          scheme: 'basic',
          description: 'client_secret_basic: the Client ID and client secret, each form-urlencoded, as HTTP Basic credentials.',
        },
        apiKeyBasic: { type: 'http', scheme: 'basic', description: 'The Basic Auth API username and API key from the API page.' },
        bearerToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from the token endpoint.' },
        oauth2: {
          type: 'oauth2',
          description: 'The client_credentials grant.',
          flows: { clientCredentials: { tokenUrl: `${base}/oauth/token`, scopes: Object.fromEntries(scopes.map((s) => [s.name, s.description])) } },
        },
      },
      schemas: componentSchemas(base, scopes, ttl),
    },
  };
}
