// The app icons: valid PNG files (chunks, CRCs, pixels as drawn) and shapes that survive a launcher's mask.
import { crc32, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { APP_ICONS, APP_MANIFEST, ICON_BACKGROUND, encodePng, iconPng, renderIcon } from './index.ts';

interface DecodedPng { width: number; height: number; rgba: Uint8Array; chunkTypes: string[] }

/** A strict reader of what encodePng writes (8-bit RGBA, filter 0): every CRC checked, every byte accounted for. */
function decodePng(file: Buffer): DecodedPng {
  expect([...file.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let offset = 8;
  const chunkTypes: string[] = [];
  let width = 0, height = 0;
  const idat: Buffer[] = [];
  while (offset < file.length) {
    const length = file.readUInt32BE(offset);
    const type = file.toString('latin1', offset + 4, offset + 8);
    const data = file.subarray(offset + 8, offset + 8 + length);
    expect(file.readUInt32BE(offset + 8 + length), `${type} CRC`).toBe(crc32(file.subarray(offset + 4, offset + 8 + length)));
    chunkTypes.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([...data.subarray(8)]).toEqual([8, 6, 0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  expect(offset).toBe(file.length);
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((width * 4 + 1) * height);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    rgba.set(raw.subarray(y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1)), y * width * 4);
  }
  return { width, height, rgba, chunkTypes };
}

const pixel = (rgba: Uint8Array, size: number, x: number, y: number) => [...rgba.subarray((y * size + x) * 4, (y * size + x) * 4 + 4)];
const background = [1, 3, 5].map((i) => Number.parseInt(ICON_BACKGROUND.slice(i, i + 2), 16));

describe('encodePng', () => {
  it('round-trips a raster through the PNG reader', () => {
    const rgba = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) & 255);
    const png = decodePng(encodePng(3, 2, rgba));
    expect(png.chunkTypes).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([png.width, png.height]).toEqual([3, 2]);
    expect([...png.rgba]).toEqual([...rgba]);
  });

  it('refuses a raster of the wrong length', () => {
    expect(() => encodePng(2, 2, new Uint8Array(15))).toThrow(/16 RGBA bytes/);
  });
});

describe('app icons', () => {
  it('are the sizes the manifest names, and the manifest names each once', () => {
    for (const icon of APP_ICONS) {
      const png = decodePng(iconPng(icon.size, icon.purpose));
      expect([png.width, png.height]).toEqual([icon.size, icon.size]);
      expect(Buffer.from(png.rgba).equals(Buffer.from(renderIcon(icon.size, icon.purpose)))).toBe(true);
    }
    expect(APP_MANIFEST.icons.map((i) => i.src)).toEqual(APP_ICONS.map((i) => `/${i.path}`));
    // Chromium wants an icon of at least 144 px for installation; Android's splash screen, 512.
    expect(APP_ICONS.some((i) => i.purpose === 'any' && i.size >= 512)).toBe(true);
  });

  it("'any' has transparent rounded corners, an opaque background and a white mesh in the middle", () => {
    const size = 192;
    const rgba = renderIcon(size, 'any');
    expect(pixel(rgba, size, 0, 0)[3]).toBe(0);
    expect(pixel(rgba, size, size - 1, size - 1)[3]).toBe(0);
    expect(pixel(rgba, size, 4, size / 2)).toEqual([...background, 255]);
    // The mesh's solid rim, left of centre, is white.
    const rimX = Math.round(size * (0.5 - 0.34));
    expect(pixel(rgba, size, rimX, size / 2)).toEqual([255, 255, 255, 255]);
  });

  it("'maskable' fills every edge and keeps the mesh inside the mask's safe circle (radius 0.4)", () => {
    const size = 512;
    const rgba = renderIcon(size, 'maskable');
    let meshPixels = 0;
    let translucent = 0;
    let farthest = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const o = (y * size + x) * 4;
        if (rgba[o + 3] !== 255) translucent++;
        if (rgba[o] === background[0] && rgba[o + 1] === background[1] && rgba[o + 2] === background[2]) continue;
        meshPixels++;
        farthest = Math.max(farthest, Math.hypot((x + 0.5) / size - 0.5, (y + 0.5) / size - 0.5));
      }
    }
    expect(translucent).toBe(0);
    expect(farthest).toBeLessThanOrEqual(0.4);
    expect(meshPixels).toBeGreaterThan(size * size * 0.1);
  });
});
