/**
 * Root error class. Every error sipd throws on purpose is a `SipdError` with a
 * stable string `code` (never reused, like undici's UND_ERR_*) and, where it maps
 * to one, the SIP `status` that goes on the wire. Layers subclass it in their own
 * `errors.ts`.
 */
export class SipdError extends Error {
  readonly code: string;
  readonly status: number | undefined;

  constructor(code: string, message: string, opts?: { status?: number; cause?: unknown }) {
    super(message, opts?.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.status = opts?.status;
  }
}
