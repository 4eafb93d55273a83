/** Courier-style tables: one row per case, run as one named test each. */
export interface Row {
  label: string;
}

export function runTable<T extends Row>(title: string, rows: readonly T[], check: (row: T) => void | Promise<void>): void {
  describe(title, () => {
    const labels = rows.map((row) => row.label);
    test('labels are unique', () => expect(new Set(labels).size).toBe(labels.length));
    test.each(rows.map((row) => [row.label, row] as const))('%s', (_label, row) => check(row));
  });
}

/** A raw form body exactly as the provider posts it, decoded the way express.urlencoded would. */
export function decodeForm(raw: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(raw));
}
