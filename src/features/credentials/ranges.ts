import ipaddr from 'ipaddr.js';
import type { IPv4, IPv6 } from 'ipaddr.js';

/** How many ranges one credential's allowlist may hold. */
export const MAX_RANGES = 50;

type Range = [IPv4 | IPv6, number];

/** A range written as the administrator typed it, checked: its canonical text, or why it is not a range. */
export type ParsedRange = { ok: true; text: string; range: Range } | { ok: false; message: string };

const shown = (entry: string): string => (entry.length > 60 ? `${entry.slice(0, 60)}…` : entry);

/**
 * One IPv4 or IPv6 address or CIDR range ("203.0.113.0/24", "2001:db8::/32", "198.51.100.7"). IPv4 only
 * in the usual four-part decimal form (ipaddr.js alone would take "10" or "0x0a.0.0.1"), host bits must be
 * zero (a typo there is likely), and an IPv4-mapped IPv6 range ("::ffff:10.0.0.0/104") is kept as the
 * IPv4 range it means, so it matches both ways a client's address may be written.
 */
export function parseRange(entry: string): ParsedRange {
  const bad = (why: string): ParsedRange => ({ ok: false, message: `${shown(entry)} is not a valid range: ${why}` });
  const [address, prefixText, ...rest] = entry.split('/');
  if (rest.length) return bad('write one address and one prefix, like 203.0.113.0/24.');
  const v6 = address.includes(':');
  if (v6 ? !ipaddr.IPv6.isValid(address) : !ipaddr.IPv4.isValidFourPartDecimal(address)) {
    return bad('the address is not an IPv4 address (like 203.0.113.0) or an IPv6 address (like 2001:db8::).');
  }
  const max = v6 ? 128 : 32;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return bad(`the prefix after “/” must be a number from 0 to ${max}.`);
  const bits = prefixText === undefined ? max : Number(prefixText);
  if (bits > max) return bad(`an ${v6 ? 'IPv6' : 'IPv4'} prefix is at most /${max}.`);
  let range: Range = [ipaddr.parse(address), bits];
  if (range[0] instanceof ipaddr.IPv6 && range[0].isIPv4MappedAddress() && bits >= 96) range = [range[0].toIPv4Address(), bits - 96];
  const network = networkOf(range);
  if (network !== range[0].toString()) return bad(`it has bits set after the prefix; did you mean ${network}/${range[1]}?`);
  return { ok: true, text: `${network}/${range[1]}`, range };
}

function networkOf([address, bits]: Range): string {
  return address instanceof ipaddr.IPv4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${bits}`).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${bits}`).toString();
}

/**
 * The administrator's text (one range per line, or separated by spaces or commas): the canonical
 * allowlist, space-separated ('' allows every address), or the message for each entry that is wrong.
 */
export function parseAllowlist(text: string): { ok: true; allowlist: string } | { ok: false; message: string } {
  const entries = [...new Set(text.split(/[\s,]+/).filter((e) => e.length > 0))];
  const parsed = entries.map(parseRange);
  const errors = parsed.flatMap((p) => (p.ok ? [] : [p.message]));
  if (errors.length) return { ok: false, message: errors.slice(0, 3).join(' ') + (errors.length > 3 ? ` (and ${errors.length - 3} more)` : '') };
  const ranges = [...new Set(parsed.map((p) => (p.ok ? p.text : '')))];
  if (ranges.length > MAX_RANGES)
    return {
      ok: false,
      message: `An allowlist holds at most ${MAX_RANGES} ranges (this one has ${ranges.length}); combine neighbouring ones into wider ranges.`,
    };
  return { ok: true, allowlist: ranges.join(' ') };
}

/** Parsed allowlists by their stored text: a request parses nothing for an allowlist seen before. */
const parsedByText = new Map<string, Range[]>();
const MAX_CACHED = 10_000;

function rangesOf(allowlist: string): Range[] {
  let ranges = parsedByText.get(allowlist);
  if (ranges === undefined) {
    // Stored lists are canonical (parseAllowlist); an entry that does not parse allows nothing rather than everything.
    ranges = allowlist.split(' ').flatMap((entry) => {
      const p = parseRange(entry);
      return p.ok ? [p.range] : [];
    });
    if (parsedByText.size >= MAX_CACHED) parsedByText.clear();
    parsedByText.set(allowlist, ranges);
  }
  return ranges;
}

/**
 * Whether a client address may use a credential with this allowlist ('' allows every address). An
 * IPv4-mapped IPv6 address (::ffff:203.0.113.9, as a dual-stack socket reports IPv4 clients) is
 * matched as the IPv4 address it carries; an address that does not parse matches no range.
 */
export function addressAllowed(allowlist: string, address: string): boolean {
  if (allowlist === '') return true;
  if (!ipaddr.isValid(address)) return false;
  const client = ipaddr.process(address);
  return rangesOf(allowlist).some((range) => range[0].kind() === client.kind() && client.match(range));
}
