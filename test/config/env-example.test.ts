import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CHANNELS } from '../../src/channels/registry';
import { CONFIG_VARIABLES } from '../../src/config';

/** .env.example is the operator's list of every variable: each one the code reads is in it. */
describe('.env.example', () => {
  const example = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');
  /** Names set or shown commented out (`# SMS_ROUTES=...`). */
  const listed = new Set([...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!));

  it('names every variable of the configuration schema', () => {
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(30);
    expect(CONFIG_VARIABLES.filter((name) => !listed.has(name))).toEqual([]);
  });

  it("names every variable of each provider's own configuration, and its rate variable", () => {
    const missing: string[] = [];
    for (const channel of CHANNELS) {
      expect(channel.config).toBeInstanceOf(z.ZodObject);
      const names = [...Object.keys((channel.config as z.ZodObject).shape), ...(channel.rateVariable ? [channel.rateVariable] : [])];
      missing.push(...names.filter((name) => !listed.has(name)).map((name) => `${channel.name}: ${name}`));
    }
    expect(missing).toEqual([]);
  });
});
