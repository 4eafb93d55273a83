/**
 * A configuration that does not hold up: every problem named, one per line. Its own module so that
 * what config.ts loads (the provider registry, the DLT book) can throw it without an import cycle.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}
