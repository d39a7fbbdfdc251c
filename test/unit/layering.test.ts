// DESIGN.md §2: imports flow downward only. Reads every lib/**/*.ts and fails
// on an upward or sideways edge, so the rule needs no code review.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LIB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lib');

// Which top-level parts of lib/ each part may import from (besides itself).
const ALLOWED: Record<string, string[]> = {
  util: [],
  sip: ['util'],
  config: ['util', 'sip'],
  transport: ['util', 'sip'],
  transaction: ['util', 'sip', 'transport'],
  store: ['util'],
  registrar: ['util', 'sip', 'transport', 'transaction', 'config', 'store'],
  proxy: ['util', 'sip', 'transport', 'transaction', 'config', 'store'],
  pbx: ['util', 'sip', 'transport', 'transaction', 'registrar', 'proxy', 'config', 'store'],
  'server.ts': ['util', 'sip', 'transport', 'transaction', 'registrar', 'proxy', 'pbx', 'config', 'store', 'version.ts', 'pidfile.ts', 'reload-status.ts'],
  'cli.ts': ['util', 'sip', 'transport', 'transaction', 'registrar', 'proxy', 'pbx', 'config', 'store', 'server.ts', 'version.ts', 'pidfile.ts', 'reload-status.ts'],
  'version.ts': [],
  'pidfile.ts': [],
  'reload-status.ts': [],
};
// Only server.ts may construct real sockets, SQLite and the system clock.
const SERVER_ONLY = [/from 'node:dgram'/, /from 'node:net'/, /better-sqlite3/];
// (lib/config may use node:net for isIP and BlockList: no sockets there.)
const SERVER_ONLY_ALLOWED = new Set(['transport/manager.ts', 'transport/address.ts', 'server.ts', 'store/sqlite.ts']);
const NET_HELPERS_OK = /^config\//;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function partOf(rel: string): string {
  const first = rel.split(path.sep)[0]!;
  return first;
}

t.test('lib/ imports flow downward only', async (t) => {
  const files = walk(LIB);
  t.ok(files.length > 10, 'found the sources');
  const violations: string[] = [];
  for (const file of files) {
    const rel = path.relative(LIB, file);
    const part = partOf(rel);
    const allowed = ALLOWED[part];
    if (allowed === undefined) {
      violations.push(`${rel}: lib/${part} is not a known layer (add it to DESIGN.md §2 and this test)`);
      continue;
    }
    const src = fs.readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = path.relative(LIB, path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts')));
      if (target.startsWith('..')) {
        violations.push(`${rel}: imports outside lib/: ${m[1]}`);
        continue;
      }
      const tpart = partOf(target);
      if (tpart !== part && !allowed.includes(tpart)) violations.push(`${rel}: lib/${part} must not import lib/${target}`);
    }
    if (!SERVER_ONLY_ALLOWED.has(rel.split(path.sep).join('/'))) {
      for (const re of SERVER_ONLY) {
        if (re.test(src) && !(re.source.includes('node:net') && NET_HELPERS_OK.test(rel.split(path.sep).join('/')))) {
          violations.push(`${rel}: only server wiring may use ${re.source}`);
        }
      }
    }
    if (/from '[./]*store\/sqlite\.js'/.test(src) && rel !== 'server.ts' && !rel.startsWith('store')) {
      violations.push(`${rel}: only server.ts may import store/sqlite.ts (depend on store/types.ts)`);
    }
    if (/\bsystemClock\b/.test(src) && rel !== 'server.ts' && rel !== path.join('util', 'clock.ts')) {
      violations.push(`${rel}: only server.ts may use systemClock`);
    }
  }
  t.same(violations, [], 'no upward or sideways imports');
});
