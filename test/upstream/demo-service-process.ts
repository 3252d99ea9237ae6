/**
 * One demo service (harness/demo/services.ts) in a process of its own, so that a test can
 * read the service's memory from `/proc/<pid>/status`:
 *
 *     node --import tsx test/upstream/demo-service-process.ts <cluster>
 *
 * prints `{"address":"127.0.0.1:<port>"}` (an ephemeral port) once it listens, and closes
 * the service and exits when its stdin ends.
 */
import { startDemoService } from '../../harness/demo/services.ts';

const cluster = process.argv[2] ?? 'echo';
const service = await startDemoService(cluster, 0);
if (!service) throw new Error(`no demo service for cluster '${cluster}'`);
process.stdout.write(`${JSON.stringify({ address: service.address })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void service.close().then(() => process.exit(0)));
