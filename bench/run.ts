/**
 * `npm run bench`: the parser figures (messages per CPU second, one core), then
 * — when SIPp and the shared harness (../shared/bench/run.sh) are there — the
 * OPTIONS rate SIPp sustains against sipd (server pinned to core 0, SIPp to
 * core 1, loopback only). Not a test: the figures go into docs/performance.md
 * with the command that produced them.
 *
 *   npm run bench                      parser + SIPp OPTIONS (REPEAT=1)
 *   npm run bench -- --parser          parser only
 *   npm run bench -- --sipp            SIPp only (TESTS=…, as ../shared/bench/run.sh)
 *   SIPD_NODE_FLAGS='--max-semi-space-size=4' npm run bench -- --sipp   node flags for sipd
 *   SIPD_BENCH_KEEP_LOG=/tmp/sipd.log …  keep sipd's log (the working directory is removed)
 *   REPEAT=3 npm run bench             median of three rate searches
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parserBench } from './parse.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HARNESS = path.resolve(ROOT, '../shared/bench/run.sh');

async function main(): Promise<number> {
  process.stdout.write(`sipd bench on ${os.cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}\n`);
  for (const r of process.argv.includes('--sipp') ? [] : parserBench()) {
    process.stdout.write(`parser: ${r.name}: ${r.perSecond} msg/s (median of 5 rounds, ${r.min}–${r.max}; ${r.bytes} bytes)\n`);
  }
  if (process.argv.includes('--parser')) return 0;
  if (spawnSync('sipp', ['-v']).error !== undefined) {
    process.stdout.write('sipp not installed (apt-get install -y sip-tester): SIPp figures skipped\n');
    return 0;
  }
  if (!fs.existsSync(HARNESS)) {
    process.stdout.write(`${HARNESS} not found: SIPp figures skipped\n`);
    return 0;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipd-bench-'));
  const conf = spawnSync(path.resolve(ROOT, '../shared/bench/gen-sipd-conf.sh'), ['10000'], { encoding: 'utf8' });
  fs.writeFileSync(path.join(dir, 'sip.conf'), conf.status === 0 ? conf.stdout : '[general]\nrealm=bench.local\n');
  const port = process.env.BENCH_PORT ?? '5070';
  // sipd's log goes to a file, not to a pipe: this process blocks in spawnSync while the
  // harness runs and would stop reading a pipe, and a full pipe makes every log line of
  // sipd wait (pino writes synchronously) — 100 ms stalls that look like sipd's latency.
  const logFile = path.join(dir, 'sipd.log');
  const logFd = fs.openSync(logFile, 'a');
  const nodeFlags = (process.env.SIPD_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  const server = spawn('taskset', ['-c', '0', process.execPath, ...nodeFlags, path.join(ROOT, 'bin/sipd'), '-b', `127.0.0.1:${port}`, '-s', dir], {
    stdio: ['ignore', logFd, 'inherit'],
  });
  fs.closeSync(logFd);
  await new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const out = fs.readFileSync(logFile, 'utf8');
      if (out.includes('listening on udp and tcp')) {
        clearInterval(poll);
        server.off('exit', early); // the SIGTERM at the end is not an early exit
        resolve();
      } else if (Date.now() - started > 30_000) {
        clearInterval(poll);
        reject(new Error(`sipd did not start within 30 s: ${out}`));
      }
    }, 100);
    const early = (code: number | null): void => {
      clearInterval(poll);
      reject(new Error(`sipd exited (${code}): ${fs.readFileSync(logFile, 'utf8')}`));
    };
    server.once('exit', early);
  });
  try {
    const tests = process.env.TESTS ?? 'options';
    const r = spawnSync(HARNESS, [`127.0.0.1:${port}`, 'bench.local'], {
      env: { ...process.env, SERVER_PID: String(server.pid), TESTS: tests, REPEAT: process.env.REPEAT ?? '1', WARMUP: process.env.WARMUP ?? '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    process.stdout.write(`sipp (${tests}): ${r.stdout.trim() || '(no result line)'}\n`);
    return r.status ?? 1;
  } finally {
    server.kill('SIGTERM');
    await new Promise<void>((resolve) => (server.exitCode !== null ? resolve() : server.once('exit', () => resolve())));
    // SIPD_BENCH_KEEP_LOG=FILE: sipd's log (with e.g. SIPD_NODE_FLAGS=--trace-gc-nvp) outlives the run.
    const keep = process.env.SIPD_BENCH_KEEP_LOG;
    if (keep !== undefined && keep !== '') fs.copyFileSync(logFile, keep);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
