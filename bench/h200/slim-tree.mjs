// What travels to the device, measured and made to fit: `node bench/h200/slim-tree.mjs check|hide|restore [--carry P,...]`
// from the checkout the device call sends (the lead's: the device tool sends the session's checkout, not a worktree).
//
// The device tool sends tracked files, untracked files git does not ignore, a shared/ folder inside the checkout and
// the paths named in `carry`, at most 64 MiB together (/work/.library/device/README.md, Limits). This repo's tracked
// files are ~41 MiB and .carry/h200 ~32 MiB (node alone is 21 MiB xz'd), so some tracked files that no segment of
// the device plan reads must stay behind for the call: HIDE below, each with why the plan does not need it.
//   check    prints what travels (by the rule above, links counted as links) and what `hide` would leave: rc 1 if
//            even that is over the limit, rc 0 otherwise
//   hide     moves HIDE's files that exist into a fresh folder outside the checkout (/tmp/sieve-slim-<name>-<time>/)
//            with manifest.json (path, bytes, sha1 of each), and records that folder in the git dir (sieve-slim.json);
//            refuses while an earlier hide is not restored, and refuses to hide a path a segment or a bench names
//   restore  moves every file of the manifest back; a file already back with the same sha1 is skipped (restore can be
//            run again), one there with other content is left alone and reported (rc 1, the hidden copy kept)
// While hidden, `git status` shows those files deleted: restore right after the device call, and commit nothing
// in between (a `git commit -a` then would delete them).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';

const LIMIT = 64 * 1024 * 1024;
/** Paths (files or folders, repo-relative) that no segment of bench/h200/PLAN.md reads, with why. */
const HIDE = [
  ['models/sieve-tiny/model.safetensors', 'read by decode, eval and the dry runs, but travels xz\'d in the carry (make-carry.mjs models.tar.xz, 18 -> 13.5 MiB): run.sh unpacks it'],
  ['models/sieve-tiny/golden/logits.f32', 'decode\'s f16 check against transformers needs it: travels in models.tar.xz like the weights'],
  ['models/golden/gguf', 'the GGUF loader\'s goldens: CPU and Chromium tests only, no segment loads a GGUF'],
  ['models/golden/gguf-vocab', 'the GGUF tokenizer goldens: tests only'],
  ['models/golden/llama-legacy-config', 'not among the decode segment\'s f16 goldens (llama-gqa-untied, llama3-rope, qwen2, qwen3, sieve-tiny)'],
  ['bench/results/eval-grid-1k.json', 'SwiftShader eval grids of 2026-11/12: the eval segment reads only eval-grid-h200-run*.json.xz'],
  ['bench/results/eval-grid-1k-seed1.json', 'as above'],
  ['bench/results/eval-grid-2k.json', 'as above'],
  ['bench/results/eval-grid-2k-seed1.json', 'as above'],
  ['bench/results/eval-grid-4k.json', 'as above'],
  ['bench/results/eval-grid-ppl-1k.json', 'as above'],
  ['bench/results/eval-probe-1k.json', 'as above'],
  ['bench/results/eval-probe-1k-tidal7.json', 'as above'],
  ['bench/results/soak.json', 'the soak chat\'s result (Chromium, here): no segment reads it'],
  ['bench/results/h200-2026-12-03', 'earlier H200 results: read here by publish scripts, never on the device'],
  ['bench/results/h200-2026-12-04-run1', 'as above'],
  ['docs/papercuts', 'screenshots for the docs'],
];
/** Where a path a segment needs would be named: a hidden path found in one of these is refused. */
const NAMERS = ['bench/h200/segments', 'bench/h200/run.sh'];

const root = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim();
const gitDir = (() => { const d = execFileSync('git', ['rev-parse', '--git-dir'], { cwd: root, encoding: 'utf8' }).trim(); return isAbsolute(d) ? d : join(root, d); })();
const pointer = join(gitDir, 'sieve-slim.json');
const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;
const args = process.argv.slice(2);
const verb = args[0];
const carryArg = args.indexOf('--carry');
const carry = (carryArg >= 0 ? args[carryArg + 1] : '.carry/h200').split(',').filter(Boolean);

/** Bytes of one path as it travels: a link as a link, a folder as everything under it. */
function pathBytes(p, into) {
  let st;
  try { st = lstatSync(p); } catch { return; }
  if (st.isSymbolicLink()) into.set(p, readlinkSync(p).length);
  else if (st.isDirectory()) for (const f of readdirSync(p)) pathBytes(join(p, f), into);
  else if (st.isFile()) into.set(p, st.size);
}

/** Every file that travels, with its bytes: git's tracked + untracked-not-ignored, shared/, the carry. */
function travelling() {
  const files = new Map();
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, maxBuffer: 1 << 28 }).toString().split('\0').filter(Boolean);
  for (const f of listed) {
    const p = join(root, f);
    try { const st = lstatSync(p); files.set(p, st.isSymbolicLink() ? readlinkSync(p).length : st.isFile() ? st.size : 0); } catch { /* deleted or hidden: does not travel */ }
  }
  if (existsSync(join(root, 'shared'))) pathBytes(join(root, 'shared'), files);
  const carried = new Map();
  for (const c of carry) pathBytes(join(root, c), carried);
  for (const [p, n] of carried) files.set(p, n);
  return { files, carried: [...carried.values()].reduce((a, b) => a + b, 0) };
}

/** HIDE's files that exist and travel now (only what git would send: ignored files under them stay). */
function toHide(files) {
  const out = [];
  for (const [h] of HIDE) {
    const abs = join(root, h);
    for (const [p, n] of files) if (p === abs || p.startsWith(abs + '/')) out.push({ path: relative(root, p), bytes: n });
  }
  return out;
}

function total(files) { let n = 0; for (const v of files.values()) n += v; return n; }

function check() {
  const { files, carried } = travelling();
  const all = total(files);
  const hide = toHide(files);
  const hidden = hide.reduce((a, f) => a + f.bytes, 0);
  const state = existsSync(pointer) ? `hidden now (${JSON.parse(readFileSync(pointer, 'utf8')).dir}): restore after the call` : 'nothing hidden';
  console.log(`travels now: ${mib(all)} of ${mib(LIMIT)} (carry ${carry.join(', ')}: ${mib(carried)}; ${files.size} files); ${state}`);
  console.log(`after hide: ${mib(all - hidden)} (${hide.length} files, ${mib(hidden)}, stay behind)`);
  if (args.includes('--verbose')) for (const [h, why] of HIDE) console.log(`  ${h}: ${why}`);
  const big = [...files].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([p, n]) => `${relative(root, p)} ${mib(n)}`);
  console.log(`largest: ${big.join(', ')}`);
  return all - hidden <= LIMIT;
}

function sha1(p) { return createHash('sha1').update(readFileSync(p)).digest('hex'); }

/** rename where it can (same filesystem), else copy and remove. */
function move(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  try { renameSync(from, to); } catch (e) {
    if (e.code !== 'EXDEV') throw e;
    copyFileSync(from, to);
    chmodSync(to, statSync(from).mode);
    unlinkSync(from);
  }
}

function hide() {
  if (existsSync(pointer)) throw new Error(`an earlier hide is not restored (${pointer}): run \`node bench/h200/slim-tree.mjs restore\` first`);
  const { files } = travelling();
  const list = toHide(files);
  // A hidden path a segment names would be missing on the device: refuse before moving anything.
  const namers = [];
  for (const n of NAMERS) { const m = new Map(); pathBytes(join(root, n), m); namers.push(...m.keys()); }
  for (const [h] of HIDE) {
    // Whole-line comments do not count (prefill.sh's history names bench/results/h200-2026-12-03).
    const code = (f) => readFileSync(f, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    for (const f of namers) if (code(f).includes(h)) throw new Error(`${relative(root, f)} names ${h}: it travels (take it out of slim-tree.mjs's HIDE)`);
  }
  const dir = join('/tmp', `sieve-slim-${basename(root)}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir);
  const manifest = { root, dir, at: new Date().toISOString(), files: list.map((f) => ({ ...f, sha1: sha1(join(root, f.path)), mode: lstatSync(join(root, f.path)).mode })) };
  // The manifest first, and the pointer: a hide cut off halfway is still restorable.
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  writeFileSync(pointer, JSON.stringify({ dir }));
  for (const f of manifest.files) move(join(root, f.path), join(dir, 'files', f.path));
  const bytes = list.reduce((a, f) => a + f.bytes, 0);
  console.log(`hid ${list.length} files (${mib(bytes)}) in ${dir}; restore with \`node bench/h200/slim-tree.mjs restore\` after the call`);
  return check();
}

function restore() {
  if (!existsSync(pointer)) { console.log('nothing hidden (no sieve-slim.json in the git dir)'); return check(); }
  const { dir } = JSON.parse(readFileSync(pointer, 'utf8'));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  if (manifest.root !== root) throw new Error(`${dir} was hidden from ${manifest.root}, not ${root}`);
  const conflicts = [];
  let back = 0, already = 0;
  for (const f of manifest.files) {
    const target = join(root, f.path);
    const kept = join(dir, 'files', f.path);
    if (existsSync(target)) {
      if (sha1(target) === f.sha1) { already++; if (existsSync(kept)) rmSync(kept); continue; }
      conflicts.push(f.path);
      continue;
    }
    if (!existsSync(kept)) { conflicts.push(`${f.path} (neither in the checkout nor in ${dir})`); continue; }
    move(kept, target);
    if (sha1(target) !== f.sha1) conflicts.push(`${f.path} (restored, but its sha1 differs from the manifest's)`);
    back++;
  }
  console.log(`restored ${back} files, ${already} were already back`);
  if (conflicts.length) {
    console.error(`left alone (a different file is there, or it is missing); the hidden copies stay in ${dir}:\n  ${conflicts.join('\n  ')}`);
    return false;
  }
  rmSync(pointer);
  rmSync(dir, { recursive: true, force: true });
  return check();
}

const verbs = { check, hide, restore };
if (!verbs[verb]) { console.error('usage: node bench/h200/slim-tree.mjs check|hide|restore [--carry .carry/h200,...] [--verbose]'); process.exit(2); }
try { process.exit(verbs[verb]() ? 0 : 1); } catch (e) { console.error(e.message); process.exit(1); }
