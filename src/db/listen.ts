import { Client } from 'pg';

export interface ListenOptions {
  /** First wait before reopening a lost connection; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * LISTENs on a PostgreSQL channel on its own connection; returns the function that stops it.
 * `onNotify` gets each notification's payload. A lost connection (PostgreSQL restarted, network cut)
 * is reopened with backoff, and `onNotify` is called with no payload once it is back, since
 * notifications sent meanwhile are gone.
 */
export async function listen(
  databaseUrl: string,
  channel: string,
  onNotify: (payload?: string) => void,
  onError: (error: Error) => void,
  options: ListenOptions = {},
): Promise<() => Promise<void>> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`unusual channel name "${channel}"`);
  const minBackoffMs = options.minBackoffMs ?? 250;
  const maxBackoffMs = options.maxBackoffMs ?? 5000;
  let stopped = false;
  /** Until the first LISTEN succeeds, a failure is the caller's to handle (thrown), not retried. */
  let started = false;
  let client: Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoffMs = minBackoffMs;

  /** Opens the connection; true once it listens. The first attempt throws, later ones retry on their own. */
  const open = async (first: boolean): Promise<boolean> => {
    const next = new Client({ connectionString: databaseUrl });
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      next.removeAllListeners('notification');
      void next.end().catch(() => undefined);
      if (stopped || !started) return;
      onError(error ?? new Error('listener connection ended'));
      scheduleReopen();
    };
    next.on('error', onLost);
    next.on('end', () => onLost());
    next.on('notification', (message) => onNotify(message.payload));
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch (error) {
      if (first) {
        void next.end().catch(() => undefined);
        throw error;
      }
      onLost(error as Error);
      return false;
    }
    if (stopped) {
      await next.end().catch(() => undefined);
      return false;
    }
    client = next;
    started = true;
    backoffMs = minBackoffMs;
    return true;
  };

  const scheduleReopen = () => {
    const wait = backoffMs;
    backoffMs = Math.min(backoffMs * 2, maxBackoffMs);
    retry = setTimeout(() => {
      if (stopped) return;
      void open(false).then((listening) => listening && onNotify(undefined));
    }, wait);
  };

  await open(true);
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    client?.removeAllListeners('notification');
    await client?.end().catch(() => undefined);
  };
}
