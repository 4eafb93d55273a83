import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './sandbox-process';

const MARKER = /^<!-- walkthrough\b.*-->\s*$/;

export function readme(): string {
  return readFileSync(join(REPO, 'README.md'), 'utf8');
}

/** The README's walkthrough: every ```sh block preceded by a `<!-- walkthrough ... -->` line, in order. */
export function walkthroughBlocks(markdown: string): string[] {
  const lines = markdown.split('\n');
  const blocks: string[] = [];
  lines.forEach((line, i) => {
    if (!MARKER.test(line)) return;
    if (lines[i + 1] !== '```sh') throw new Error(`README line ${i + 1}: a walkthrough marker must be followed by a \`\`\`sh block`);
    const end = lines.indexOf('```', i + 2);
    if (end < 0) throw new Error(`README line ${i + 2}: the walkthrough block is not closed`);
    blocks.push(lines.slice(i + 2, end).join('\n'));
  });
  return blocks;
}
