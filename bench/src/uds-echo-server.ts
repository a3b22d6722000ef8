/**
 * The floor: a raw Unix-socket echo server in a child process. Each request is a 4-byte length and a payload;
 * the server writes it back. A round trip through it is the least any cross-process dispatch can cost here.
 */
import { createServer } from "node:net";

const path = process.argv[2]!;
const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", (chunk) => socket.write(chunk));
});
server.listen(path, () => process.stdout.write("ready\n"));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
