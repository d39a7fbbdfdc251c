/**
 * Store errors (STYLE §4.4). Messages name the database file and suggest the
 * fix, because they reach the operator at start-up or from `--registrations`.
 */
import { SipdError } from '../util/errors.js';

export type StoreErrorCode =
  /** The file cannot be opened, is not a database, is damaged or is not writable. */
  | 'SIPD_ERR_STORE_OPEN'
  /** The file was written by a newer sipd (unknown schema version). */
  | 'SIPD_ERR_STORE_SCHEMA'
  /** A batch of writes could not be committed (disk full, I/O error); the batch is kept and retried. */
  | 'SIPD_ERR_STORE_WRITE'
  /** The store was used after `close()`. */
  | 'SIPD_ERR_STORE_CLOSED';

export class StoreError extends SipdError {
  /** The database file the error is about. */
  readonly file: string;

  constructor(code: StoreErrorCode, file: string, message: string, cause?: unknown) {
    super(code, message, cause !== undefined ? { cause } : undefined);
    this.file = file;
  }
}
