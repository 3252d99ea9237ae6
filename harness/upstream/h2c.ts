/**
 * HTTP/1.1 and cleartext HTTP/2 (h2c with prior knowledge, RFC 9113 §3.3) on one TCP
 * port, told apart by the HTTP/2 connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`
 * (RFC 9113 §3.4) — what Envoy's `codec_type: AUTO` does on a cleartext listener
 * (source/common/http/conn_manager_utility.cc `determineNextProtocol`). gRPC clients
 * speak h2c with prior knowledge, so they pass; curl and browsers speak HTTP/1.1.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface DualProtocolServer {
  readonly tcp: net.Server;
  readonly h1: http.Server | null;
  readonly h2: http2.Http2Server | null;
  /** Bound address once listening. */
  address(): net.AddressInfo;
  listen(port: number, host: string): Promise<net.AddressInfo>;
  /** Stops accepting, destroys open connections, resolves when closed. */
  close(): Promise<void>;
}

/**
 * Makes a TCP server that hands each connection to `h1` or `h2` after reading enough
 * bytes to compare with the preface. Errors on a socket close that socket only.
 */
export function createDualProtocolServer(
  h1: http.Server | null,
  h2: http2.Http2Server | null,
  beforeHandOff?: (socket: net.Socket, protocol: 'HTTP/1.1' | 'HTTP/2') => void,
): DualProtocolServer {
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = seen.length ? Buffer.concat([seen, chunk]) : chunk;
      const n = Math.min(seen.length, PREFACE.length);
      let isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      // A listener with one codec (codec_type HTTP1 or HTTP2) parses everything with it.
      if (!h1) isH2 = true;
      else if (!h2) isH2 = false;
      // Wait for more bytes only while what we have is still a prefix of the preface.
      if (isH2 && n < PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(seen);
      beforeHandOff?.(socket, isH2 ? 'HTTP/2' : 'HTTP/1.1');
      if (isH2) {
        // Node's Http2Session reads what is buffered on the socket on its next tick;
        // resuming here would hand those bytes to no one.
        h2!.emit('connection', socket);
      } else {
        h1!.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });
  return {
    tcp,
    h1,
    h2,
    address: () => tcp.address() as net.AddressInfo,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        const onError = (e: Error): void => reject(e);
        tcp.once('error', onError);
        tcp.listen({ port, host, exclusive: true }, () => {
          tcp.off('error', onError);
          resolve(tcp.address() as net.AddressInfo);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        tcp.close(() => resolve());
        for (const s of sockets) s.destroy();
        h1?.closeAllConnections?.();
      }),
  };
}
