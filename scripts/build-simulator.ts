import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bundleSimulator } from '../src/simulator/bundle';

/** `npm run build`'s last step: the browser simulator's script, where the compiled product looks for it. */
async function main(): Promise<void> {
  const outfile = join(__dirname, '..', 'dist', 'simulator', 'simulator.js');
  const script = await bundleSimulator(outfile);
  mkdirSync(dirname(outfile), { recursive: true });
  writeFileSync(outfile, script);
  process.stdout.write(`simulator: ${outfile} (${Math.round(script.length / 1024)} KB)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`build-simulator failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
