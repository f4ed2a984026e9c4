/**
 * Serves a MetricsSink's registry at /metrics in Prometheus's text format, on the address the
 * user gave (`127.0.0.1:9187`, `[::1]:9187`, `:9187` for every interface; port 0 picks one).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../../core/errors.js';
import type { MetricsSink } from './metrics.js';

interface MetricsAddress { host: string; port: number }

export function parseMetricsAddress(text: string): MetricsAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UserError('BAD_ARGUMENT', `--metrics wants HOST:PORT (e.g. 127.0.0.1:9187), not "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface MetricsServer {
  /** http://host:port/metrics as bound (the port filled in when 0 was asked). */
  readonly url: string;
  close(): Promise<void>;
}

export function serveMetrics(sink: MetricsSink, addr: MetricsAddress): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('pgsniff serves /metrics\n');
      return;
    }
    sink.text().then(
      (body) => { res.writeHead(200, { 'content-type': sink.registry.contentType }).end(req.method === 'HEAD' ? undefined : body); },
      (e: Error) => { res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`); },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(new UserError('BAD_ARGUMENT', `--metrics: cannot listen on ${addr.host}:${addr.port}: ${e.code ?? e.message}`));
    });
    server.listen(addr.port, addr.host, () => {
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        url: `http://${host}:${a.port}/metrics`,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
