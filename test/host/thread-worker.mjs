// Worker entry for threads.test.ts: registers tsx (Node 20 has no TypeScript
// stripping), then loads the worker proper.
import { register } from 'tsx/esm/api';

register();
await import('./thread-worker.ts');
