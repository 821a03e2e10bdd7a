// A TCP proxy in front of a real server, for outage tests: `down()` closes the port and cuts every
// open connection (the client sees a refused, then reset, server), `up()` listens on the same
// port again and forwards to the server as before.
import net from 'node:net';

export interface Proxy {
  /** host:port clients use instead of the server's. */
  address: string;
  port: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpProxy(target: string, opts: { startDown?: boolean } = {}): Promise<Proxy> {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i) || '127.0.0.1';
  const targetPort = Number(target.slice(i + 1));
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;

  const listen = async () => {
    const s = net.createServer((client) => {
      const upstream = net.connect(targetPort, host);
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const down = async () => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen(); // takes a free port, kept for up()
  if (opts.startDown) await down();
  return {
    get address() {
      return `127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    down,
    up: async () => {
      if (!server) await listen();
    },
    close: down,
  };
}
