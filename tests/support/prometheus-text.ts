import request from 'supertest';
import type { Express } from 'express';

/**
 * A reader of the Prometheus text exposition format (version 0.0.4), enough to check what /metrics
 * says: every family's HELP and TYPE, and every sample with its labels, with HELP and label escapes
 * (\\, \", \n) undone. It refuses lines it does not understand, so a malformed scrape fails the test.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;
const unescape = (value: string): string => value.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match) throw new Error(`unreadable labels in: ${line}`);
    labels[match[1]] = unescape(match[2]);
  }
  return labels;
}

/** The family a sample belongs to: its own name, or the name without a histogram's or summary's suffix. */
function familyOf(families: Map<string, Family>, name: string): Family | undefined {
  if (families.has(name)) return families.get(name);
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return families.get(base);
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    if (!families.has(name)) families.set(name, { name, samples: [] });
    return families.get(name)!;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') family(meta[2]).help = unescape(meta[3]);
      else family(meta[2]).type = meta[3];
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`unreadable sample line: ${line}`);
    const owner = familyOf(families, sample[1]);
    if (!owner) throw new Error(`a sample before its family's TYPE: ${line}`);
    owner.samples.push({ name: sample[1], labels: sample[2] ? parseLabels(sample[2], line) : {}, value: Number(sample[3]) });
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is none or more than one. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const owner = familyOf(families, name);
  const matching = (owner?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length !== 1) throw new Error(`${matching.length} samples of ${name} ${JSON.stringify(labels)}`);
  return matching[0].value;
}

/** GET /metrics with the token, parsed; fails the test unless it answers 200. */
export async function scrape(app: Express, token: string): Promise<Map<string, Family>> {
  const res = await request(app).get('/metrics').set('Authorization', `Bearer ${token}`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.text}`);
  return parseExposition(res.text);
}
