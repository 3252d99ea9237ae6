// Worker thread entry: registers tsx (Node 20 has no TypeScript stripping) and loads the
// worker proper. Kept as plain JavaScript because nothing can load .ts before this runs.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
