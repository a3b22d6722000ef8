import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/**
 * The parts of a request that webhooks and static files use, met by HTTP/1.1 (`IncomingMessage`) and HTTP/2
 * (`Http2ServerRequest`) requests alike: the server hands both to the same handlers.
 */
export interface HttpRequest extends AsyncIterable<Buffer | string> {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** The parts of a response that webhooks and static files use, for HTTP/1.1 and HTTP/2 alike. */
export interface HttpResponse {
  readonly headersSent: boolean;
  setHeader(name: string, value: string | number | readonly string[]): unknown;
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  end(chunk?: string | Uint8Array): unknown;
  destroy(error?: Error): unknown;
}
