import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The browser code's entry point (TypeScript, beside this file in the source tree). */
export const BROWSER_ENTRY = join(__dirname, 'browser', 'main.ts');
/**
 * Where `npm run build` writes the bundle: dist/simulator/simulator.js, which from the compiled
 * dist/src/simulator/ is this path. From src/simulator/ (tsx) it names a file that does not exist.
 */
export const BUILT_SCRIPT = join(__dirname, '..', '..', 'simulator', 'simulator.js');

/** Bundles the browser code (wire.ts and the GSM-7 rules with it) into one minified script. */
export async function bundleSimulator(outfile?: string): Promise<string> {
  // A development dependency: loaded only where the script is built, never by the compiled product.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [BROWSER_ENTRY],
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    legalComments: 'none',
    write: false,
    ...(outfile ? { outfile } : { outdir: 'out' }),
  });
  return result.outputFiles[0]!.text;
}

/**
 * The script the page loads: the built file where `npm run build` made one (production), else
 * bundled once from the source on first request (development under tsx).
 */
export function simulatorScript(builtScript = BUILT_SCRIPT): () => Promise<string> {
  let script: Promise<string> | undefined;
  return () => {
    script ??= existsSync(builtScript) ? readFile(builtScript, 'utf8') : bundleSimulator();
    // A failed bundle is not kept: fixing the source and reloading tries again.
    script.catch(() => (script = undefined));
    return script;
  };
}
