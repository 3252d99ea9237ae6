// Worker entry for the rate-limit bench: registers tsx (Node 20 has no TypeScript
// stripping), then loads the worker proper.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
