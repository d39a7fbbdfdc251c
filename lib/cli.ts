/**
 * The command line, with the original sipd's flags exactly (`-a -b -c -cc -d -s
 * -r -v`, Go-style: `-b ADDR`, `-b=ADDR`, `--b ADDR` all work) on top of
 * commander. `bin/sipd` only calls {@link main}.
 */
import { Command, CommanderError, Option } from 'commander';
import path from 'node:path';
import { createLogger, type Logger } from './util/log.js';
import { prettyLogStream } from './util/pretty-log.js';
import { messageIn, messageOut, type TraceEvent } from './transport/trace.js';
import { parseHostPort } from './transport/address.js';
import { SipdServer, hostName } from './server.js';
import { VERSION } from './version.js';

/** The original's single-dash flags (Go's flag package) → commander's long options. */
const GO_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  a: '--about',
  b: '--bind',
  c: '--country-code',
  cc: '--city-code',
  d: '--debug',
  s: '--dir',
  r: '--reload',
  v: '--version',
});

/** Rewrites `-cc 495`, `-cc=495`, `--b=1.2.3.4:5060` into commander's long forms. */
export function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--?([a-z]{1,2})(?:=(.*))?$/s.exec(a);
    const long = m ? GO_FLAGS[m[1]!] : undefined;
    if (m && long !== undefined) {
      out.push(long);
      if (m[2] !== undefined) out.push(m[2]);
    } else out.push(a);
  }
  return out;
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface Opts {
  about?: boolean;
  bind: string;
  countryCode: string;
  cityCode: string;
  debug?: boolean;
  dir: string;
  reload?: boolean;
  version?: boolean;
  logJson?: boolean;
}

const ABOUT = `sipd ${VERSION} - SIP registrar, stateful proxy and small-office PBX
(forwarding, hunting, pickup, calls by short number, voice guidance).
Configured by one sip.conf in the working directory; see 'sipd --help'.
Heir of the original Go sipd by Vasily Suvorov (gbazil). License: MIT.
`;

function buildProgram(io: CliIo): Command {
  const program = new Command('sipd');
  program
    .description('SIP registrar, stateful proxy and small-office PBX')
    .helpOption('-h, --help', 'print this help')
    .addOption(new Option('-a, --about', 'print about'))
    .addOption(new Option('-b, --bind <addr>', 'listen address, IP:PORT or [IPv6]:PORT (UDP and TCP)').default('127.0.0.1:5060'))
    .addOption(new Option('-c, --country-code <code>', 'current country code').default('7'))
    .addOption(new Option('--city-code <code>', 'current city code (the original\'s -cc, which works too)').default('495'))
    .addOption(new Option('-d, --debug', 'debug mode: print every SIP message in and out'))
    .addOption(new Option('-s, --dir <directory>', "the server's working directory (sip.conf, sipd.sqlite3, sipd.pid)").default('.'))
    .addOption(new Option('-r, --reload', 'reload sip.conf in the running server'))
    .addOption(new Option('-v, --version', 'print name, version and host name'))
    .addOption(new Option('--log-json', 'write logs as JSON lines (pino) instead of text'))
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`sipd: ${s.replace(/^error: /, '')}`),
    })
    .exitOverride()
    .allowExcessArguments(false);
  program.addHelpText('after', `
Examples:
  sipd -b 0.0.0.0:5060 -s /etc/sipd     serve the office described in /etc/sipd/sip.conf
  sipd -r -s /etc/sipd                   tell the running server to reload sip.conf
  sipd -b [::1]:5060 -d                  IPv6 loopback, printing every SIP message
`);
  return program;
}

/**
 * Runs the CLI. Resolves with the process exit code once the command is done
 * (for the server: after SIGINT/SIGTERM and a clean shutdown).
 */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const program = buildProgram(io);
  let opts: Opts;
  try {
    program.parse(normalizeArgv(argv), { from: 'user' });
    opts = program.opts<Opts>();
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? 0 : 1;
    }
    throw err;
  }
  if (opts.version) {
    io.stdout.write(`sipd ${VERSION} @ ${hostName()}\n`);
    return 0;
  }
  if (opts.about) {
    io.stdout.write(ABOUT);
    return 0;
  }
  if (!/^\d{1,4}$/.test(opts.countryCode)) return fail(io, `bad country code '${opts.countryCode}' (-c): expected 1 to 4 digits`);
  if (!/^\d{1,6}$/.test(opts.cityCode)) return fail(io, `bad city code '${opts.cityCode}' (-cc): expected 1 to 6 digits`);
  if (opts.reload) return fail(io, 'reload (-r) is not available yet in this version');
  const bind = parseHostPort(opts.bind);
  if (bind === undefined) {
    return fail(io, `bad listen address '${opts.bind}' (-b): expected IP:PORT, e.g. 127.0.0.1:5060 or [::1]:5060`);
  }
  const workDir = path.resolve(opts.dir);
  return runServer({ bind, workDir, debug: opts.debug === true, logJson: opts.logJson === true }, io);
}

function fail(io: CliIo, message: string): number {
  io.stderr.write(`sipd: ${message}\n`);
  return 1;
}

async function runServer(
  o: { bind: { address: string; port: number }; workDir: string; debug: boolean; logJson: boolean },
  io: CliIo,
): Promise<number> {
  const level = o.debug ? 'debug' : 'info';
  const log: Logger = createLogger({ level, destination: o.logJson ? io.stdout : prettyLogStream(io.stdout) });
  const unsubscribe = o.debug ? subscribeTrace(io.stdout) : () => {};
  let server: SipdServer;
  try {
    server = await SipdServer.start({ bind: o.bind, log });
  } catch (err) {
    unsubscribe();
    return fail(io, err instanceof Error ? err.message : String(err));
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      log.info({ signal }, 'shutting down');
      server.close().then(
        () => {
          unsubscribe();
          resolve(0);
        },
        (err: unknown) => {
          io.stderr.write(`sipd: error during shutdown: ${err instanceof Error ? err.message : String(err)}\n`);
          resolve(1);
        },
      );
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}

/** `-d`: every SIP message in and out, with time, direction, transport and peer, readable. */
function subscribeTrace(out: NodeJS.WritableStream): () => void {
  const print = (ev: unknown) => {
    const e = ev as TraceEvent;
    const arrow = e.direction === 'in' ? `${e.remote} -> ${e.local}` : `${e.local} -> ${e.remote}`;
    const text = e.data.toString('utf8').replace(/\r\n/g, '\n').replace(/\n+$/, '');
    out.write(`----- ${new Date(e.time).toISOString()} ${e.direction === 'in' ? 'RECV' : 'SEND'} ${e.proto.toUpperCase()} ${arrow} (${e.data.length} bytes)\n${text}\n\n`);
  };
  messageIn.subscribe(print);
  messageOut.subscribe(print);
  return () => {
    messageIn.unsubscribe(print);
    messageOut.unsubscribe(print);
  };
}
