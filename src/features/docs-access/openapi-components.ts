/**
 * The building blocks of the OpenAPI document (openapi.ts): its types, the shared headers and error
 * answers, and the component schemas of the platform API's bodies.
 */
export interface ScopeInfo {
  name: string;
  description: string;
}

export type JsonSchema = Record<string, unknown>;

export interface OpenApiHeader {
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, OpenApiHeader>;
  content?: Record<string, { schema: JsonSchema; example?: unknown }>;
}

export interface OpenApiParameter {
  name: string;
  in: 'query' | 'header' | 'path' | 'cookie';
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  security?: Record<string, string[]>[];
  parameters?: OpenApiParameter[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema; example?: unknown }> };
  responses: Record<string, OpenApiResponse>;
  'x-codeSamples': { lang: string; label: string; source: string }[];
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  servers: { url: string; description: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, JsonSchema> };
}

export const schemaRef = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const jsonBody = (schema: JsonSchema, example?: unknown) => ({ 'application/json': example === undefined ? { schema } : { schema, example } });

export const header = (description: string, schema: JsonSchema, required = true): OpenApiHeader => ({ description, required, schema });
export const NO_STORE = header('Never cached.', { type: 'string', const: 'no-store' });
export const RETRY_AFTER = header('Seconds to wait before trying again.', { type: 'string', pattern: '^[1-9][0-9]*$' });
export const WWW_AUTHENTICATE = header(
  'The authentication scheme(s) to use: `Basic realm="..."` and/or `Bearer realm="..."`, with `error="..."` when a token was refused (RFC 7235, RFC 6750).',
  {
    type: 'string',
    pattern: '^(Basic|Bearer) ',
  },
);

/** An error answer: `{"error", "error_description"}` with one of `codes`. */
export function errorResponse(description: string, codes: string[], example: string, headers: Record<string, OpenApiHeader> = {}): OpenApiResponse {
  return {
    description,
    ...(Object.keys(headers).length ? { headers } : {}),
    content: jsonBody(
      { allOf: [schemaRef('OAuthError'), { type: 'object', properties: { error: { type: 'string', enum: codes } } }] },
      { error: codes[0], error_description: example },
    ),
  };
}

/** The component schemas, with this deployment's URLs, scopes and token lifetime. */
export function componentSchemas(publicUrl: string, scopes: ScopeInfo[], ttl: number): Record<string, JsonSchema> {
  const scopeNames = scopes.map((s) => s.name);
  return {
    OAuthError: {
      type: 'object',
      description: 'An error in the shape of RFC 6749 section 5.2, used by every endpoint of this API.',
      required: ['error', 'error_description'],
      properties: {
        error: { type: 'string', description: 'A stable, machine-readable code.' },
        error_description: { type: 'string', description: 'A human-readable explanation.' },
      },
    },
    TokenResponse: {
      type: 'object',
      required: ['access_token', 'token_type', 'expires_in', 'scope'],
      properties: {
        access_token: { type: 'string', description: 'A JWT (RFC 9068, `typ: at+jwt`) signed with a key from the JWKS.' },
        token_type: { type: 'string', const: 'Bearer' },
        expires_in: { type: 'integer', minimum: 1, description: `Lifetime in seconds (${ttl} on this deployment).` },
        scope: { type: 'string', description: 'The granted scopes, space-separated.' },
      },
      examples: [
        { access_token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6Ii4uLiJ9...', token_type: 'Bearer', expires_in: ttl, scope: scopeNames.join(' ') },
      ],
    },
    ServerMetadata: {
      type: 'object',
      description: 'Authorization server metadata (RFC 8414).',
      required: ['issuer', 'token_endpoint', 'jwks_uri', 'grant_types_supported', 'token_endpoint_auth_methods_supported', 'scopes_supported'],
      properties: {
        issuer: { type: 'string', const: publicUrl },
        token_endpoint: { type: 'string', const: `${publicUrl}/oauth/token` },
        jwks_uri: { type: 'string', const: `${publicUrl}/.well-known/jwks.json` },
        introspection_endpoint: { type: 'string', const: `${publicUrl}/oauth/introspect` },
        revocation_endpoint: { type: 'string', const: `${publicUrl}/oauth/revoke` },
        grant_types_supported: { type: 'array', items: { type: 'string' }, const: ['client_credentials'] },
        token_endpoint_auth_methods_supported: {
          type: 'array',
          items: { type: 'string', enum: ['client_secret_basic', 'client_secret_post'] },
          minItems: 2,
          uniqueItems: true,
        },
        scopes_supported: { type: 'array', items: { type: 'string', enum: scopeNames }, uniqueItems: true },
      },
    },
    JsonWebKeySet: {
      type: 'object',
      description:
        'The public keys that verify access tokens (RFC 7517). During a key rotation the previous key stays listed until every token it signed has expired.',
      required: ['keys'],
      properties: {
        keys: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            required: ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y'],
            properties: {
              kty: { type: 'string', const: 'EC' },
              kid: { type: 'string', minLength: 1, examples: ['k-2026-11-01'] },
              alg: { type: 'string', const: 'ES256' },
              use: { type: 'string', const: 'sig' },
              crv: { type: 'string', const: 'P-256' },
              x: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', examples: ['f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU'] },
              y: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', examples: ['x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0'] },
            },
            additionalProperties: false, // public parts only: never `d`
          },
        },
      },
    },
    IntrospectionResponse: {
      description: 'RFC 7662. Revoked, expired, unknown or malformed tokens are simply inactive.',
      oneOf: [
        { type: 'object', required: ['active'], properties: { active: { const: false } }, additionalProperties: false },
        {
          type: 'object',
          required: ['active', 'scope', 'client_id', 'sub', 'exp', 'iat', 'iss', 'aud', 'token_type', 'jti'],
          properties: {
            active: { const: true },
            scope: { type: 'string' },
            client_id: { type: 'string' },
            sub: { type: 'string' },
            exp: { type: 'integer' },
            iat: { type: 'integer' },
            iss: { type: 'string', const: publicUrl },
            aud: { type: 'string', const: `${publicUrl}/api` },
            token_type: { type: 'string', const: 'Bearer' },
            jti: { type: 'string' },
          },
        },
      ],
    },
    Me: {
      type: 'object',
      required: ['company', 'credential', 'scopes'],
      properties: {
        company: { type: 'object', required: ['id', 'name'], properties: { id: { type: 'integer' }, name: { type: 'string' } } },
        credential: {
          type: 'object',
          required: ['kind', 'id', 'identifier'],
          properties: {
            kind: {
              type: 'string',
              enum: ['basic', 'oauth'],
              description: '`basic`: an API username and key; `oauth`: an access token of an OAuth 2.0 client.',
            },
            id: { type: 'integer' },
            identifier: { type: 'string', description: 'The API username, or the Client ID.' },
          },
        },
        scopes: { type: 'array', items: { type: 'string' } },
      },
    },
  };
}
