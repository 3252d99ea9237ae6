// docs/FIDELITY.md names, for every behaviour of the host, the tests that assert it. This
// suite reads the document and checks that what it cites exists: each row of a table with a
// Test column cites at least one test file, every file exists, every quoted `it` title is in
// its file (a title ending in `…` by its beginning), and every agreement case named is one of
// test/host/agreement-cases.ts. What each test asserts is the reviewer's to compare.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
import { CASES } from './agreement-cases.ts';

const AGREEMENT = 'test/host/envoy-agreement.test.ts';

interface Row {
  section: string;
  behaviour: string;
  tests: string;
}

/** Rows of the tables whose header has a Test column, with their section heading. */
function rows(markdown: string): Row[] {
  const out: Row[] = [];
  let section = '';
  let testColumn = -1;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3);
    if (!line.startsWith('|')) {
      testColumn = -1;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.every((c) => /^-+$/.test(c))) continue;
    if (testColumn < 0) {
      testColumn = cells.indexOf('Test');
      if (testColumn >= 0) continue; // the header row
      testColumn = -2; // a table without a Test column
    }
    if (testColumn >= 0) out.push({ section, behaviour: cells[0], tests: cells[testColumn] });
  }
  return out;
}

/** What a Test cell cites that does not exist (empty when all of it does). */
function missing(cell: string): string[] {
  const problems: string[] = [];
  let file: string | undefined;
  let source = '';
  let files = 0;
  for (const m of cell.matchAll(/`([^`]+)`|"([^"]+)"/g)) {
    const [, code, title] = m;
    if (code?.endsWith('.test.ts')) {
      file = code;
      files++;
      const at = path.join(projectRoot, code);
      source = existsSync(at) ? readFileSync(at, 'utf8').replace(/\\(['"`])/g, '$1') : '';
      if (!source) problems.push(`no file ${code}`);
    } else if (code !== undefined) {
      if (file !== AGREEMENT) problems.push(`\`${code}\` is neither a test file nor an agreement case`);
      else if (!CASES.some((c) => c.name === code)) problems.push(`no agreement case ${code}`);
    } else if (file === undefined) {
      problems.push(`"${title}" names no file`);
    } else if (source) {
      const wanted = title.endsWith('…') ? title.slice(0, -1) : title;
      if (!source.includes(wanted)) problems.push(`no test "${title}" in ${file}`);
    }
  }
  if (files === 0) problems.push('cites no test file');
  return problems;
}

describe('docs/FIDELITY.md', () => {
  const doc = readFileSync(path.join(projectRoot, 'docs/FIDELITY.md'), 'utf8');
  const table = rows(doc);

  it('has rows with tests in every section that lists behaviours', () => {
    expect(new Set(table.map((r) => r.section)).size).toBeGreaterThan(8);
  });

  it('cites, in every row, tests that exist: files, it titles and agreement cases', () => {
    const problems = table.flatMap((r) => missing(r.tests).map((p) => `${r.section} / ${r.behaviour.slice(0, 60)}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('catches what does not exist (the check itself)', () => {
    expect(missing('`test/host/traps.test.ts` › "no such test"')).toEqual(['no test "no such test" in test/host/traps.test.ts']);
    expect(missing('`test/host/nothing.test.ts`')).toEqual(['no file test/host/nothing.test.ts']);
    expect(missing(`\`${AGREEMENT}\` › cases \`headers\`, \`no-such-case\``)).toEqual(['no agreement case no-such-case']);
    expect(missing('—')).toEqual(['cites no test file']);
    expect(missing('`test/host/traps.test.ts` › "FAIL_RELOAD: 503 while…"')).toEqual([]);
  });
});
