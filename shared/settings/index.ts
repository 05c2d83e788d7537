// Export surface of the sync configuration (configuration as data, issue 16): the schema and its rules, the
// effective configuration of a mailbox, and the versioned store. App settings from the environment are
// shared/config.ts, not this.
export {
  breakerLimitNames,
  breakerSchema,
  checkEntries,
  checkEntry,
  ConfigValidationError,
  configKinds,
  defaultBreaker,
  defaultConfig,
  defaultScope,
  directionWords,
  effectiveConfig,
  fieldsFlowingToExchange,
  relationProblems,
  scopeFilterSchema,
  wordOfDirection,
} from './schema.js';
export type { BreakerLimits, ConfigEntries, ConfigProblem, ConfigRule, ConfigValue, DirectionWord, EffectiveConfig, ScopeCondition, ScopeFilter } from './schema.js';
export { ConfigStore, maxScopesPerChange } from './store.js';
export type { ConfigChange, ConfigExport, ConfigPlan, ConfigScope, ConfigSnapshot, ConfigVersion } from './store.js';
