import { Client } from 'pg';

/** LISTENs on a PostgreSQL channel on its own connection; returns the function that stops it. */
export async function listen(databaseUrl: string, channel: string, onNotify: () => void, onError: (error: Error) => void): Promise<() => Promise<void>> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`unusual channel name "${channel}"`);
  const client = new Client({ connectionString: databaseUrl });
  client.on('error', onError);
  client.on('notification', onNotify);
  await client.connect();
  await client.query(`LISTEN ${channel}`);
  return async () => {
    client.removeAllListeners('notification');
    await client.end().catch(() => undefined);
  };
}
