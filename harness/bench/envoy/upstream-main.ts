/**
 * The Envoy bench's upstream, a process of its own (so that it never shares Envoy's core:
 * the bench pins it to the load generator's), on harness/upstream:
 *
 *     node --import tsx harness/bench/envoy/upstream-main.ts [jwks-file]
 *
 * Answers `200 ok` on every path except `/fail…` (always 503), `/r10…` (every tenth
 * request 503, the rest 200) and `/.well-known/jwks.json` (the JSON of `jwks-file`, for
 * jwt-auth's `remote_jwks` in envoy/mesh.yaml). Prints `LISTENING <host:port>` once
 * ready; exits when its standard input closes (the bench ended, however it ended).
 */
import { readFileSync } from 'node:fs';
import { startUpstream, status } from '../../upstream/index.ts';

const jwksFile = process.argv[2];
const up = await startUpstream({ name: 'bench', host: '127.0.0.1', fallback: status(200, 'ok', { 'content-type': 'text/plain' }) });
up.route('/fail', status(503, 'failed', { 'content-type': 'text/plain' }));
let n = 0;
up.route('/r10', (req) => (n++ % 10 === 9 ? status(503, 'failed')(req) : status(200, 'ok')(req)));
if (jwksFile) up.route('/.well-known/jwks.json', status(200, readFileSync(jwksFile, 'utf8'), { 'content-type': 'application/json' }));
// The upstream records every request; a bench sends millions.
setInterval(() => up.clearRequests(), 1000).unref();
process.stdin.on('end', () => void up.close().then(() => process.exit(0)));
process.stdin.resume();
console.log(`LISTENING ${up.address}`);
