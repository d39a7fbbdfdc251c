/**
 * Which hosts are sipd itself: the realm, the host name, the listen address
 * and, when listening on a wildcard address, every address of the machine.
 * A REGISTER's To (the AOR) must name one of them (RFC 3261 §10.3 step 1 is
 * about the Request-URI; sipd checks the AOR, which is what identifies the
 * binding).
 */
import { bareHost } from '../sip/uri.js';

export class LocalDomains {
  readonly #names: ReadonlySet<string>;

  /**
   * @param names realm, host name, listen address; `interfaces` are added when
   *   the listen address is a wildcard (0.0.0.0 or ::).
   */
  constructor(opts: { realm: string; hostName: string; listenAddress: string; interfaces: readonly string[] }) {
    const set = new Set<string>([opts.realm.toLowerCase(), opts.hostName.toLowerCase(), opts.listenAddress.toLowerCase()]);
    if (opts.listenAddress === '0.0.0.0' || opts.listenAddress === '::') {
      for (const a of opts.interfaces) set.add(a.toLowerCase());
    }
    set.add('localhost');
    this.#names = set;
  }

  /** True when `host` (as in a URI: brackets allowed, any case) is sipd. */
  has(host: string): boolean {
    return this.#names.has(bareHost(host));
  }
}
