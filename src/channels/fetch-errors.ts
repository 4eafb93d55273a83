/** What went wrong with a provider request that got no HTTP answer, in words for a log or a row. */
export function describeFetchError(error: unknown, timeoutMs: number): string {
  // Duck-typed rather than instanceof: errors from undici may come from another realm (as under jest).
  const { name, message, cause } = asErrorLike(error);
  if (name === 'TimeoutError' || name === 'AbortError') return `timeout after ${timeoutMs} ms`;
  // undici reports network failures as TypeError('fetch failed') with the system error as `cause`.
  const system = asErrorLike(cause);
  return `network error: ${system.code ?? system.message ?? message ?? String(error)}`;
}

interface ErrorLike {
  name?: string;
  message?: string;
  code?: string;
  cause?: unknown;
}

function asErrorLike(value: unknown): ErrorLike {
  if (typeof value !== 'object' || value === null) return {};
  const { name, message, code, cause } = value as Record<string, unknown>;
  const text = (field: unknown) => (typeof field === 'string' && field ? field : undefined);
  return { name: text(name), message: text(message), code: text(code), cause };
}
