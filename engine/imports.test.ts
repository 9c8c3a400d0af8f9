// The import graph's house rules (STYLE.md): the engine never imports from bench/, and no source file reaches itself
// through value imports. Type-only imports are left out: they are erased, so a type cycle costs no load order.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const isTest = (f: string) => /\.(test|spec)\.ts$|\.test-helper\.ts$/.test(f);

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The repo files `file` imports for their values (static import / export ... from; `import type` and all-type lists left out). */
function valueImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (!(ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) || !st.moduleSpecifier || !ts.isStringLiteral(st.moduleSpecifier)) continue;
    const spec = st.moduleSpecifier.text;
    if (!spec.startsWith('.') || spec.includes('?')) continue;
    let typeOnly = false;
    if (ts.isImportDeclaration(st)) {
      const c = st.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : null;
      typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else {
      const named = st.exportClause && ts.isNamedExports(st.exportClause) ? st.exportClause.elements : null;
      typeOnly = st.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly));
    }
    if (typeOnly) continue;
    const target = resolve(dirname(file), spec);
    if (target.endsWith('.ts')) out.push(target);
    else if (existsSync(join(target, 'index.ts'))) out.push(join(target, 'index.ts'));
  }
  return out;
}

const files = ['engine', 'web'].flatMap((d) => sourceFiles(join(ROOT, d))).filter((f) => !isTest(f));
const graph = new Map(files.map((f) => [f, valueImports(f)]));
const rel = (f: string) => relative(ROOT, f);

describe('import graph', () => {
  it('engine/ code never imports from bench/', () => {
    const offending = files.filter((f) => rel(f).startsWith('engine/'))
      .flatMap((f) => graph.get(f)!.filter((t) => rel(t).startsWith('bench/')).map((t) => `${rel(f)} -> ${rel(t)}`));
    expect(offending).toEqual([]);
  });

  it('has no cycle of value imports among engine/ and web/ sources', () => {
    // Depth-first search; a file met again while still on the path closes a cycle.
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) {
        if (!graph.has(t)) continue;
        if (state.get(t) === 'open') cycles.push([...path.slice(path.indexOf(t)), t].map(rel).join(' -> '));
        else if (!state.has(t)) visit(t, [...path, t]);
      }
      state.set(f, 'done');
    };
    for (const f of files) if (!state.has(f)) visit(f, [f]);
    expect(files.length).toBeGreaterThan(200);
    expect(cycles).toEqual([]);
  });

  it('has no cycle of value imports among engine/ modules (folders)', () => {
    // A folder is a module (STYLE.md): two folders importing each other's files are one module in two places, even
    // when no file reaches itself (engine/eval's webgpu backend once imported the CLI's browser host, and the CLI the eval).
    const moduleOf = (f: string) => rel(f).split('/').slice(0, 2).join('/');
    const edges = new Map<string, Set<string>>();
    for (const f of files.filter((x) => rel(x).startsWith('engine/'))) {
      for (const t of graph.get(f)!) {
        const [a, b] = [moduleOf(f), moduleOf(t)];
        if (a !== b && rel(t).startsWith('engine/') && !a.endsWith('.ts') && !b.endsWith('.ts')) edges.set(a, (edges.get(a) ?? new Set()).add(b));
      }
    }
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (m: string, path: string[]) => {
      state.set(m, 'open');
      for (const t of edges.get(m) ?? []) {
        if (state.get(t) === 'open') cycles.push([...path.slice(path.indexOf(t)), t].join(' -> '));
        else if (!state.has(t)) visit(t, [...path, t]);
      }
      state.set(m, 'done');
    };
    for (const m of edges.keys()) if (!state.has(m)) visit(m, [m]);
    expect(edges.size).toBeGreaterThan(10);
    expect(cycles).toEqual([]);
  });
});
