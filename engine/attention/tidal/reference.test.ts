// TidalDecode's reference: layer roles, model-fitted re-selection layer and its errors, top tokens by logit.
import { describe, expect, it } from 'vitest';
import { parseAttentionSpec } from '../spec.ts';
import { resolveTidalParams, tidalLayerRole, tidalLogits, tidalSelect, tidalSpecParams } from './reference.ts';

describe('TidalDecode reference', () => {
  const spec = (text: string) => tidalSpecParams(parseAttentionSpec(text) as never);

  it('fits the re-selection layer to the model: 13 of 32 for Llama-3-8B', () => {
    expect(spec('tidal')).toEqual({ budget: 256, selectLayer: 2, reselectLayer: 0 });
    expect(resolveTidalParams(spec('tidal'), 32)).toEqual({ budget: 256, selectLayer: 2, reselectLayer: 13 });
    expect(resolveTidalParams(spec('tidal'), 16).reselectLayer).toBe(7);
    expect(resolveTidalParams(spec('tidal'), 5).reselectLayer).toBe(3);
    // Too shallow for a middle layer after the selection layer: none.
    expect(resolveTidalParams(spec('tidal'), 4).reselectLayer).toBeNull();
    expect(resolveTidalParams(spec('tidal:budget=256,select-layer=2,reselect-layer=13'), 32).reselectLayer).toBe(13);
  });

  it('a re-selection layer past the last layer is a typed error, not a silent change', () => {
    const e = (() => { try { resolveTidalParams(spec('tidal:reselect-layer=13'), 8); } catch (x) { return x as Error & { code: string }; } return null; })();
    expect(e?.code).toBe('INVALID_ARGUMENT');
    expect(e?.message).toMatch(/attention\.reselectLayer: the model has 8 layers.*13 is past the last/);
    expect(() => resolveTidalParams(spec('tidal:select-layer=8'), 8)).toThrow(/selection layer of 8 is past the last/);
    expect(() => resolveTidalParams(spec('tidal:select-layer=3,reselect-layer=3'), 8)).toThrow(/must come after the selection layer/);
  });

  it('gives each layer its role', () => {
    const p = resolveTidalParams(spec('tidal:select-layer=2,reselect-layer=5'), 8);
    expect(Array.from({ length: 8 }, (_, l) => tidalLayerRole(l, p))).toEqual(['dense', 'dense', 'select', 'sparse', 'sparse', 'select', 'sparse', 'sparse']);
  });

  it('scores by the max logit over the group and keeps the top budget - 1 older tokens, ties to the older', () => {
    const keys = [[1, 0], [0, 1], [1, 1], [-1, 0], [0, -1]];
    const logits = tidalLogits([[2, 0], [0, 3]], keys, 0.5);
    expect([...logits]).toEqual([1, 1.5, 1.5, 0, 0]);
    // 5 slots, slot 4 is the new token; budget 3 -> 2 older slots: 1 and 2 (1.5 each).
    expect(tidalSelect(logits, 5, 3)).toEqual([1, 2]);
    // Budget 2: slots 1 and 2 tie, the older wins.
    expect(tidalSelect(logits, 5, 2)).toEqual([1]);
    expect(tidalSelect(logits, 5, 5)).toEqual([0, 1, 2, 3]);
    expect(tidalSelect(logits, 5, 1)).toEqual([]);
  });
});
