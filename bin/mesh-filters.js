#!/usr/bin/env node
// The `mesh-filters` command: runs harness/cli.ts through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../harness/cli.ts');
