/**
 * Summarises a V8 CPU profile (`node --cpu-prof`, written by `BENCH_CPU_PROFILE=<dir> npm run bench`):
 * self time grouped by package (knex, pg, express, ioredis, zod, tsx, ours, node internals, …), the
 * same with the time spent in node's built-ins and native code (socket writes, crypto, …) charged to
 * the nearest package up the stack that called it, and the top self-time functions.
 *
 *   npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The package a script belongs to: the node_modules folder it is in, ours for src/ and flows/, node for built-ins. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native/V8)';
  if (url.startsWith('node:')) return 'node (built-in)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const [first, second] = url.slice(nm + '/node_modules/'.length).split('/');
    return first!.startsWith('@') ? `${first}/${second}` : first!;
  }
  if (/\/(src|flows|bench)\//.test(url)) return 'ours';
  return url;
}

function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;

  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** The first frame up the stack that is a package or ours: who caused this built-in/native time. */
  const callerPackage = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      const pkg = packageOf(url, functionName);
      if (pkg !== 'node (built-in)' && pkg !== '(native/V8)') return pkg;
    }
    return packageOf(byId.get(id)!.callFrame.url, byId.get(id)!.callFrame.functionName);
  };
  const byCaller = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, { pkg: string; us: number }>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const caller = callerPackage(id);
    byCaller.set(caller, (byCaller.get(caller) ?? 0) + us);
    const where = url ? `${url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench|flows)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    const entry = byFunction.get(key) ?? { pkg, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)}% of samples), idle ${(idle / 1e6).toFixed(1)} s`,
    '',
    'self time by package (share of busy time):',
    ...[...byPackage.entries()].sort((a, b) => b[1] - a[1]).map(([pkg, us]) => `  ${pct(us)}  ${pkg}`),
    '',
    'self time with built-in and native time charged to the calling package:',
    ...[...byCaller.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([pkg, us]) => `  ${pct(us)}  ${pkg}`),
    '',
    `top ${top} functions by self time:`,
    ...[...byFunction.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([fn, { pkg, us }]) => `  ${pct(us)}  [${pkg}] ${fn}`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25)));
}
