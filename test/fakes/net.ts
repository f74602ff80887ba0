/** Putting the fakes' servers on a port, and naming it in a URL. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts (or restarts) `server` listening on host:port (0: a random port); resolves to the port it got. */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** `host` as it goes into a URL or a gRPC target: an IPv6 address in brackets. */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
