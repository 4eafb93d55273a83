/**
 * The fault suite (`npm run test:faults`): outages, crashes, fuzzing and brute force. Slow, so it is
 * kept apart from `npm test`; .ci/run runs both. Files that need private PostgreSQL/Redis start their
 * own on free ports (test/faults/support), never touching the machine's services.
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['**/test/faults/**/*.fault.ts'],
  testTimeout: 300000,
  // Outage scenarios time real seconds: one file at a time keeps their figures honest on 2 cores.
  maxWorkers: 1,
};
