import http from "node:http";

/**
 * POSTs a JSON body with a bearer token over `agent` (keep-alive, so a benchmark measures requests, not
 * connections) with a bare node:http request, which is what a Connect JSON call or a webhook is on the wire;
 * resolves with the answer's body, rejects unless the status is 200.
 */
export function postJson(agent: http.Agent, token: string, url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () =>
          response.statusCode === 200
            ? resolve(text)
            : reject(new Error(`HTTP ${response.statusCode}: ${text}`)),
        );
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
