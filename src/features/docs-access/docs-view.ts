import type { JsonSchema, OpenApiDocument, OpenApiOperation, ScopeInfo } from './openapi';

/**
 * The readable documentation page, derived from the same OpenAPI document that is served as
 * openapi.json (so the page cannot say something the document does not).
 */

/** Inline markup of the document's descriptions (`code` and **strong**), as segments the template escapes. */
export interface TextSegment {
  kind: 'text' | 'code' | 'strong';
  text: string;
}

export function segments(text: string): TextSegment[] {
  const out: TextSegment[] = [];
  const pattern = /`([^`]+)`|\*\*([^*]+)\*\*/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push({ kind: 'text', text: text.slice(last, match.index) });
    out.push(match[1] !== undefined ? { kind: 'code', text: match[1] } : { kind: 'strong', text: match[2] });
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}

export interface FieldView {
  name: string;
  where: string;
  /** Whether a call must send it, in the table's words. */
  required: 'yes' | 'no';
  type: string;
  description: TextSegment[];
}

export interface ResponseView {
  status: string;
  contentType: string | null;
  description: TextSegment[];
  headers: { name: string; description: TextSegment[] }[];
  example: string | null;
}

export interface OperationView {
  id: string;
  method: string;
  path: string;
  url: string;
  summary: string;
  description: TextSegment[];
  auth: string[];
  fields: FieldView[];
  bodyType: string | null;
  responses: ResponseView[];
  samples: { label: string; source: string }[];
}

export interface DocsPage {
  title: string;
  description: TextSegment[];
  server: string;
  openapiUrl: string;
  sections: { name: string; description: TextSegment[]; operations: OperationView[] }[];
  scopes: ScopeInfo[];
  errorExample: string;
}

const AUTH_LABEL: Record<string, string> = {
  clientSecretBasic: 'HTTP Basic with the Client ID and client secret (client_secret_basic)',
  apiKeyBasic: 'HTTP Basic with the API username and API key',
  bearerToken: 'Authorization: Bearer with an access token',
  oauth2: 'An access token (client_credentials)',
};

function resolve(doc: OpenApiDocument, schema: JsonSchema): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    return resolve(doc, doc.components.schemas[ref.slice('#/components/schemas/'.length)] ?? {});
  }
  return schema;
}

/** A representative value for a schema: its example, const or first enum value, else one built from its type. */
export function exampleOf(doc: OpenApiDocument, input: JsonSchema, depth = 0): unknown {
  const schema = resolve(doc, input);
  if (depth > 8) return null;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if (Array.isArray(schema.allOf)) {
    const parts = schema.allOf.map((s) => exampleOf(doc, s as JsonSchema, depth + 1));
    return parts.every((p) => p && typeof p === 'object' && !Array.isArray(p)) ? Object.assign({}, ...parts) : parts[0];
  }
  const choices = (schema.oneOf ?? schema.anyOf) as JsonSchema[] | undefined;
  if (Array.isArray(choices) && choices.length) return exampleOf(doc, choices[choices.length - 1], depth + 1);
  switch (schema.type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, exampleOf(doc, v, depth + 1)]));
    }
    case 'array': {
      if (!schema.items) return [];
      const items = resolve(doc, schema.items as JsonSchema);
      // An array of known values (auth methods, scopes) is shown with all of them.
      return Array.isArray(items.enum) && !('const' in items) ? items.enum : [exampleOf(doc, items, depth + 1)];
    }
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return true;
    case 'string':
      return 'string';
    default:
      return null;
  }
}

function typeOf(schema: JsonSchema): string {
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  return typeof schema.type === 'string' ? schema.type : 'value';
}

function operationView(doc: OpenApiDocument, path: string, method: string, op: OpenApiOperation): OperationView {
  const fields: FieldView[] = (op.parameters ?? []).map((p) => ({
    name: p.name,
    where: p.in,
    required: p.required ? 'yes' : 'no',
    type: typeOf(p.schema),
    description: segments(p.description),
  }));
  const [bodyType, body] = Object.entries(op.requestBody?.content ?? {})[0] ?? [null, undefined];
  if (body) {
    const schema = resolve(doc, body.schema);
    const required = new Set((schema.required as string[] | undefined) ?? []);
    for (const [name, prop] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
      fields.push({
        name,
        where: 'form',
        required: required.has(name) ? 'yes' : 'no',
        type: typeOf(prop),
        description: segments(typeof prop.description === 'string' ? prop.description : ''),
      });
    }
  }
  const responses = Object.entries(op.responses).map(([status, r]) => {
    const [contentType, media] = Object.entries(r.content ?? {})[0] ?? [null, undefined];
    const example = media ? (media.example ?? exampleOf(doc, media.schema)) : null;
    return {
      status,
      contentType,
      description: segments(r.description),
      headers: Object.entries(r.headers ?? {}).map(([name, h]) => ({ name, description: segments(h.description) })),
      example: example === null ? null : JSON.stringify(example, null, 2),
    };
  });
  const auth = op.security
    ? op.security.map((s) => Object.keys(s)[0]).map((k) => (k ? (AUTH_LABEL[k] ?? k) : 'client_id and client_secret form fields (client_secret_post)'))
    : [];
  return {
    id: op.operationId,
    method: method.toUpperCase(),
    path,
    url: `${doc.servers[0]?.url ?? ''}${path}`,
    summary: op.summary,
    description: segments(op.description),
    auth,
    fields,
    bodyType,
    responses,
    samples: op['x-codeSamples'].map((s) => ({ label: s.label, source: s.source })),
  };
}

export function docsPage(doc: OpenApiDocument, scopes: ScopeInfo[]): DocsPage {
  const operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => operationView(doc, path, method, op)));
  const server = doc.servers[0]?.url ?? '';
  return {
    title: doc.info.title,
    description: segments(doc.info.description),
    server,
    openapiUrl: `${server}/docs/openapi.json`,
    sections: doc.tags.map((tag) => ({
      name: tag.name,
      description: segments(tag.description),
      operations: operations.filter((o) => doc.paths[o.path]?.[o.method.toLowerCase()]?.tags.includes(tag.name)),
    })),
    scopes,
    errorExample: JSON.stringify({ error: 'invalid_client', error_description: 'Client authentication failed.' }, null, 2),
  };
}
