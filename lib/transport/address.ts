/** Parsing and normalising listen/peer addresses (`IP:PORT`, `[IPv6]:PORT`). */
import { isIP } from 'node:net';
import type { Address } from './types.js';

/**
 * Parses `127.0.0.1:5060`, `[::1]:5060`, `0.0.0.0` (port defaults to 5060) or
 * `:5060` (all IPv4 addresses). Returns undefined when malformed.
 */
export function parseHostPort(s: string, defaultPort = 5060): Address | undefined {
  let host: string;
  let portText: string | undefined;
  const t = s.trim();
  if (t.length === 0) return undefined;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) return undefined;
    host = t.slice(1, close);
    const rest = t.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = t.lastIndexOf(':');
    if (colon >= 0 && t.indexOf(':') !== colon) return undefined; // bare IPv6 needs brackets
    host = colon >= 0 ? t.slice(0, colon) : t;
    portText = colon >= 0 ? t.slice(colon + 1) : undefined;
    if (host === '') host = '0.0.0.0';
    if (isIP(host) !== 4) return undefined;
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    if (port > 65535) return undefined;
  }
  return { address: host, port, family: isIP(host) === 6 ? 6 : 4 };
}

/** `::ffff:1.2.3.4` (IPv4-mapped, seen on dual-stack sockets) → `1.2.3.4`. */
export function normalizeIp(ip: string): { address: string; family: 4 | 6 } {
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return { address: ip.slice(7), family: 4 };
  return { address: ip, family: isIP(ip) === 6 ? 6 : 4 };
}
