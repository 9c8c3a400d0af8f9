// A model too large for the adapter fails from config.json alone, before any weight byte is fetched.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BufferLimitError } from '../errors/index.ts';
import { loadModel } from './index.ts';

const GOLDEN = new URL('../../models/golden/llama-gqa-untied/', import.meta.url);

describe('device limits at load', () => {
  it('raises BUFFER_LIMIT naming config.json and the tensor without fetching the weights', async () => {
    const requested: string[] = [];
    const server = createServer((req, res) => {
      requested.push(req.url ?? '');
      if (req.url?.endsWith('/config.json')) { res.end(readFileSync(new URL('config.json', GOLDEN))); return; }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`;
    try {
      // The embedding is 512 x 96 f32 = 196,608 bytes: a 100 KB limit cannot bind it.
      const err = await loadModel(base, { maxTensorBytes: 100_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BufferLimitError);
      expect((err as BufferLimitError).message).toMatch(/config\.json: tensor model\.embed_tokens\.weight needs 196608 bytes.*maxStorageBufferBindingSize/);
      expect(requested.some((u) => u.endsWith('.safetensors'))).toBe(false);
      // With room to spare it goes on to fetch the weights (absent from this server).
      await expect(loadModel(base, { maxTensorBytes: 1 << 30 })).rejects.toThrow(/model\.safetensors/);
    } finally {
      server.close();
    }
  });
});
