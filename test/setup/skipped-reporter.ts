/**
 * A vitest reporter that ends the run with every skipped suite or test and why (their
 * titles carry the reason: `... (skipped: no Envoy: ...)`), so that a skip is seen in the
 * summary, not only as a count.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class SkippedReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines = new Set<string>();
    for (const m of modules) {
      for (const t of m.children.allTests('skipped') as Iterable<TestCase>) {
        // A skipped suite shows once, by its own title, rather than once per test.
        let title = t.name;
        for (let p = t.parent; p.type === 'suite'; p = p.parent) if (p.options.mode === 'skip') title = p.name;
        lines.add(`${m.moduleId.replace(`${process.cwd()}/`, '')}: ${title}`);
      }
    }
    if (!lines.size) return;
    console.log(`\nSkipped (${lines.size}):`);
    for (const l of lines) console.log(`  ${l}`);
  }
}
