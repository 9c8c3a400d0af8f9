// Grammar-constrained decoding through xgrammar: a response format compiles once per request into a grammar over
// the model's vocabulary; each choice gets a matcher that gives the bitmask of allowed next tokens and hears the
// token chosen. The mask is applied to the logits read back to the CPU, before the CPU sampler.
import type { CompiledGrammar, GrammarCompiler, GrammarMatcher } from '@mlc-ai/web-xgrammar';
import { InvalidSchemaError } from '../errors/index.ts';
import type { TokenConstraint } from '../generation/index.ts';
import type { TextTokenizer } from '../tokenizer/index.ts';
import { checkJsonSchema, schemaForXgrammar } from './schema-check.ts';
import { loadXgrammar, withXgrammarErrors } from './xgrammar.ts';

/** What a reply must be: JSON (any object, or valid against a schema), an EBNF grammar or a regular expression. */
export type GrammarSpec =
  | { type: 'json_object' }
  /** `begin`/`end`: text the JSON must come between (a tool call's tags). */
  | { type: 'json_schema'; schema: Record<string, unknown>; at?: string; begin?: string; end?: string }
  | { type: 'grammar'; grammar: string; at?: string }
  | { type: 'regex'; regex: string; at?: string };

/** One compiler per tokenizer (its TokenizerInfo holds the decoded vocabulary; compiled grammars are cached by it). */
const compilers = new WeakMap<TextTokenizer, Promise<GrammarCompiler>>();

function compilerFor(tokenizer: TextTokenizer, vocabSize: number, eosTokenIds: readonly number[]): Promise<GrammarCompiler> {
  let c = compilers.get(tokenizer);
  if (!c) {
    c = (async () => {
      const xgr = await loadXgrammar();
      const v = tokenizer.grammarVocabulary();
      const info = await xgr.TokenizerInfo.createTokenizerInfo(v.tokens, v.type, v.prependSpace, vocabSize, [...eosTokenIds]);
      return xgr.GrammarCompiler.createGrammarCompiler(info);
    })();
    c.catch(() => compilers.delete(tokenizer));
    compilers.set(tokenizer, c);
  }
  return c;
}

/** A compiled response format: makes one matcher per choice. */
export interface CompiledConstraint {
  /** A fresh constraint at the grammar's start (one per choice). */
  start(): Promise<GrammarConstraint>;
  /** Frees the compiled grammar (the matchers made from it stay usable until they are disposed). */
  dispose(): void;
}

/**
 * Compiles `spec` for the tokenizer's vocabulary. A schema, grammar or regex that is invalid is InvalidSchemaError
 * naming where (a JSON pointer into the schema, or xgrammar's line and column of the grammar).
 * JSON is generated compact, on one line (", " and ": " separators), and json_schema allows no properties or items the
 * schema does not name (xgrammar's strict mode); bounded numbers are generated as integers (see schemaForXgrammar).
 */
export async function compileConstraint(spec: GrammarSpec, tokenizer: TextTokenizer, vocabSize: number, eosTokenIds: readonly number[]): Promise<CompiledConstraint> {
  let schemaText = '';
  if (spec.type === 'json_schema') {
    const at = spec.at ?? 'response_format.json_schema.schema';
    checkJsonSchema(spec.schema, at);
    schemaText = JSON.stringify(schemaForXgrammar(spec.schema, at));
  }
  const compiler = await compilerFor(tokenizer, vocabSize, eosTokenIds);
  const xgr = await loadXgrammar();
  let compiled: CompiledGrammar;
  try {
    compiled = await withXgrammarErrors(async () => {
      switch (spec.type) {
        case 'json_object': return compiler.compileJSONSchema(JSON.stringify({ type: 'object' }), false, -1, [', ', ': '], false);
        case 'json_schema': {
          if (spec.begin === undefined && spec.end === undefined) return compiler.compileJSONSchema(schemaText, false, -1, [', ', ': '], true);
          // Between tags: the schema's grammar (compact, as above) inside a structural tag.
          const ebnf = await xgr.Testings._jsonSchemaToEBNF(schemaText, false, -1, [', ', ': '], true);
          return compiler.compileStructuralTag({ type: 'structural_tag', format: { type: 'tag', begin: spec.begin ?? '', content: { type: 'grammar', grammar: ebnf }, end: spec.end ?? '' } });
        }
        case 'grammar': return compiler.compileGrammar(spec.grammar, 'root');
        case 'regex': return compiler.compileStructuralTag({ type: 'structural_tag', format: { type: 'regex', pattern: spec.regex } });
      }
    });
  } catch (e) {
    const at = spec.type === 'json_object' ? 'response_format' : spec.at ?? (spec.type === 'json_schema' ? 'response_format.json_schema.schema' : `response_format.${spec.type}`);
    const kind = spec.type === 'json_object' ? 'json_schema' : spec.type;
    throw new InvalidSchemaError(kind, at, (e as Error).message);
  }
  return {
    start: async () => new GrammarConstraint(await xgr.GrammarMatcher.createGrammarMatcher(compiled)),
    dispose: () => compiled.dispose(),
  };
}

/** One choice's matcher as the generation loop's TokenConstraint; keeps the time spent making masks. */
export class GrammarConstraint implements TokenConstraint {
  /** Milliseconds spent in getNextTokenBitmask and acceptToken, and how many masks were made. */
  maskMs = 0;
  masks = 0;
  constructor(private readonly matcher: GrammarMatcher) {}

  async nextMask(): Promise<Int32Array> {
    const t0 = performance.now();
    const mask = await this.matcher.getNextTokenBitmask();
    this.maskMs += performance.now() - t0;
    this.masks++;
    return mask;
  }

  accept(id: number): void {
    const t0 = performance.now();
    const ok = this.matcher.acceptToken(id);
    this.maskMs += performance.now() - t0;
    // The sampler only picks allowed ids, so a refusal means the mask and the sampler disagree: a bug, not input.
    if (!ok) throw new Error(`internal: the grammar refused token ${id}, which its mask allowed`);
  }

  /** True once the grammar has taken a stop token. */
  get terminated(): boolean {
    return this.matcher.isTerminated();
  }

  dispose(): void {
    this.matcher.dispose();
  }
}

