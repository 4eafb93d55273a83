// Preloaded (`node -r`) into the compiled product by test/build/build.test.ts: on SIGUSR2 it writes
// what the process runs with (its arguments, NODE_OPTIONS and every CommonJS module it loaded).
// Written beside, then renamed: the test waits for the file to exist, and must never read half of it.
const { renameSync, writeFileSync } = require('node:fs');

process.on('SIGUSR2', () => {
  const report = { argv: process.argv, execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS ?? '', modules: Object.keys(require.cache) };
  const target = process.env.LOADED_MODULES_REPORT;
  writeFileSync(`${target}.partial`, JSON.stringify(report));
  renameSync(`${target}.partial`, target);
});
