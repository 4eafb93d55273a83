/**
 * Resolves with what `found` returns once it returns something, checked now and each time one of
 * `listeners` fires (a fake server calls them as requests arrive); rejects after `timeoutMs`.
 */
export function waitUntil<T>(listeners: Set<() => void>, found: () => T | undefined, timeoutMs: number, failure: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = found();
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(failure()));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      listeners.delete(check);
    };
    listeners.add(check);
    check();
  });
}
