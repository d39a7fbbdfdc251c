/** The sip.conf layer: load, validate, compare and describe a configuration. */
export { loadConfig, readConfigFile, CLIENT_KEYS, GENERAL_KEYS, GENERAL_DEFAULTS } from './load.js';
export type { NumberingOptions, LoadResult } from './load.js';
export { ConfigLoadError } from './errors.js';
export type { ConfigDiagnostic, ConfigDiagnosticCode, Severity } from './errors.js';
export { diffConfigs, formatDiff } from './diff.js';
export type { ConfigDiff } from './diff.js';
export { formatSummary, describeDialplan } from './summary.js';
export { contextPattern, canonicalContext, CONTEXT_ALIASES, CONTEXT_NAMES } from './dialplan.js';
export { SHORT_NUMBER_MAX_LENGTH } from './types.js';
export type * from './types.js';
