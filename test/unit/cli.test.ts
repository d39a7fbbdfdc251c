import t from 'tap';
import fs from 'node:fs';
import { normalizeArgv } from '../../lib/cli.js';
import { parseHostPort } from '../../lib/transport/address.js';
import { VERSION } from '../../lib/version.js';

t.test('original Go-style flags map to commander options', async (t) => {
  t.same(normalizeArgv(['-cc', '812']), ['--city-code', '812']);
  t.same(normalizeArgv(['-cc=812']), ['--city-code', '812']);
  t.same(normalizeArgv(['--cc', '812']), ['--city-code', '812']);
  t.same(normalizeArgv(['-c', '7', '-b', '127.0.0.1:5070']), ['--country-code', '7', '--bind', '127.0.0.1:5070']);
  t.same(normalizeArgv(['-b=[::1]:5060']), ['--bind', '[::1]:5060']);
  t.same(normalizeArgv(['-a', '-d', '-r', '-v', '-s', '/etc/sipd']), ['--about', '--debug', '--reload', '--version', '--dir', '/etc/sipd']);
  t.same(normalizeArgv(['--check', '--help', '-h']), ['--check', '--help', '-h'], 'other options pass through');
});

t.test('listen addresses', async (t) => {
  t.same(parseHostPort('127.0.0.1:5060'), { address: '127.0.0.1', port: 5060, family: 4 });
  t.same(parseHostPort('[::1]:5070'), { address: '::1', port: 5070, family: 6 });
  t.same(parseHostPort('0.0.0.0'), { address: '0.0.0.0', port: 5060, family: 4 });
  t.same(parseHostPort(':5080'), { address: '0.0.0.0', port: 5080, family: 4 });
  t.same(parseHostPort('[::]'), { address: '::', port: 5060, family: 6 });
  for (const bad of ['::1:5060', 'localhost:5060', '1.2.3.4:70000', '1.2.3.4:x', '[::1', '[1.2.3.4]:5060', '300.1.1.1:5060', '']) {
    t.equal(parseHostPort(bad), undefined, `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('version matches package.json', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.equal(VERSION, pkg.version);
});
