/**
 * A throwaway HTTP server on 127.0.0.1 (port chosen by the OS) for tests
 * that need a real peer: per-path handlers, a count of TCP connections and a
 * record of the requests it saw. Tests never talk to anything but loopback.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";

export type LoopbackHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` (or `https://`) */
  readonly origin: string;
  readonly port: number;
  /** The absolute URL of a path on this server. */
  url(path: string): string;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Requests received so far, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** Drops every open connection and stops listening. */
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** Serve HTTPS with this key and certificate (PEM) instead of plain HTTP. @default plain HTTP */
  readonly tls?: { readonly key: string; readonly cert: string };
}

/**
 * Starts a server whose `handlers` are keyed by path (query included, as in
 * `request.url`). An unknown path gets 404.
 */
export async function startLoopbackServer(handlers: Readonly<Record<string, LoopbackHandler>> = {}, options: LoopbackOptions = {}): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  let connections = 0;

  const listener: RequestListener = (request, response) => {
    const path = request.url ?? "/";
    requests.push({ method: request.method ?? "", path, headers: request.headers });
    // The client under test often hangs up on purpose (caps, timeouts); a
    // write after that must not crash the test process.
    response.on("error", () => undefined);
    const handler = handlers[path];
    if (handler) handler(request, response);
    else response.writeHead(404, { "content-type": "text/plain" }).end("not found");
  };
  const server = options.tls ? createTlsServer(options.tls, listener) : createServer(listener);
  server.on("connection", () => {
    connections += 1;
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error(`loopback server has no TCP address (got ${String(address)})`);
  const { port } = address;
  const origin = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;

  return {
    origin,
    port,
    url: (path) => `${origin}${path}`,
    get connections() {
      return connections;
    },
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
