// Preloaded (`node -r`) into the compiled product by test/build/build.test.ts: on SIGUSR2 it writes
// what the process runs with (its arguments, NODE_OPTIONS and every CommonJS module it loaded).
const { writeFileSync } = require('node:fs');

process.on('SIGUSR2', () => {
  const report = { argv: process.argv, execArgv: process.execArgv, nodeOptions: process.env.NODE_OPTIONS ?? '', modules: Object.keys(require.cache) };
  writeFileSync(process.env.LOADED_MODULES_REPORT, JSON.stringify(report));
});
