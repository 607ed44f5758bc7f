// A TCP relay, run by the ground as a daemon:
//   node --import tsx test/ground/tcp-relay.ts LISTEN_HOST:PORT TARGET_HOST:PORT
// It puts one loopback service (the S3 gateway) on the real node's bridge
// address, where pods reach it, without exposing the service's other ports.
// Bytes pass unchanged (the Host header a pod signs stays what it sent).
import { connect, createServer, type Socket } from "node:net";

function parse(address: string | undefined): { host: string; port: number } {
  const match = /^(.+):(\d+)$/.exec(address ?? "");
  if (!match?.[1] || !match[2]) {
    process.stderr.write("usage: tcp-relay.ts LISTEN_HOST:PORT TARGET_HOST:PORT\n");
    process.exit(2);
  }
  return { host: match[1], port: Number(match[2]) };
}

const listen = parse(process.argv[2]);
const target = parse(process.argv[3]);

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", close);
  b.on("error", close);
  a.on("close", close);
  b.on("close", close);
}

const server = createServer((client) => {
  const upstream = connect(target.port, target.host);
  pipeBoth(client, upstream);
});
server.on("error", (error) => {
  process.stderr.write(`tcp-relay ${listen.host}:${listen.port}: ${error.message}\n`);
  process.exit(1);
});
server.listen(listen.port, listen.host, () => {
  process.stderr.write(`tcp-relay: ${listen.host}:${listen.port} -> ${target.host}:${target.port}\n`);
});
// Stopping ends open connections too (clients retry against the next store).
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));
