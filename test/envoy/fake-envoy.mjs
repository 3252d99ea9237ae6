#!/usr/bin/env node
// A stand-in for the `envoy` binary, for testing harness/envoy/runner.ts where no Envoy
// exists: it takes Envoy's command-line options (-c, --admin-address-path, ...), serves the
// admin endpoints the runner reads (/ready, /listeners?format=json) and answers on each
// listener with "fake-envoy <name>". It proves the runner's plumbing, not Envoy's behaviour.
// FAKE_ENVOY_ARGS_FILE: where to write its argv (JSON); FAKE_ENVOY_FAIL=1: fail like a bad config.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import YAML from 'yaml';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
if (process.env.FAKE_ENVOY_ARGS_FILE) writeFileSync(process.env.FAKE_ENVOY_ARGS_FILE, JSON.stringify(args));
if (process.env.FAKE_ENVOY_FAIL) {
  console.error("[2025-01-01 00:00:00.000][1][critical][main] error initializing configuration 'x': Proto constraint validation failed");
  process.exit(1);
}
const config = YAML.parse(readFileSync(opt('-c'), 'utf8'));
const listen = (server, sock) =>
  new Promise((resolve) => server.listen(sock.port_value, sock.address, () => resolve(server.address())));

const bound = [];
const servers = [];
for (const l of config.static_resources?.listeners ?? []) {
  const server = http.createServer((req, res) => res.end(`fake-envoy ${l.name}`));
  servers.push(server);
  const a = await listen(server, l.address.socket_address);
  bound.push({ name: l.name, local_address: { socket_address: { address: a.address, port_value: a.port } } });
}
const admin = http.createServer((req, res) => {
  if (req.url === '/ready') return res.end('LIVE\n');
  if (req.url === '/listeners?format=json') return res.end(JSON.stringify({ listener_statuses: bound }));
  res.statusCode = 404;
  res.end();
});
servers.push(admin);
const a = await listen(admin, config.admin.address.socket_address);
writeFileSync(opt('--admin-address-path'), `${a.address}:${a.port}`);
process.on('SIGTERM', () => {
  for (const s of servers) s.close();
  process.exit(0);
});
