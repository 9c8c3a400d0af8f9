// Draws Sieve's app icon (a sieve: a white mesh disc with a grid of holes, on the chat page's accent blue) as RGBA.
import { encodePng } from './png.ts';

/** The chat page's light-theme accent (web/chat/chat.css --accent): the icon and the manifest's theme colour. */
export const ICON_BACKGROUND = '#2452c7';
const MESH = [255, 255, 255] as const;
/** Subsamples per pixel side: 4x4 gives smooth edges without an anti-aliasing library. */
const SUPERSAMPLE = 4;

/**
 * 'any': a rounded square, transparent corners, the mesh filling most of it. 'maskable': the background runs to every
 * edge and the mesh stays inside the central circle of radius 0.4 that every launcher mask keeps (W3C manifest spec,
 * "icon masks"), so no platform crops it.
 */
export type IconPurpose = 'any' | 'maskable';

interface IconShape {
  cornerRadius: number;
  meshRadius: number;
  holeRadius: number;
  holePitch: number;
}

const SHAPES: Record<IconPurpose, IconShape> = {
  any: { cornerRadius: 0.22, meshRadius: 0.36, holeRadius: 0.032, holePitch: 0.105 },
  maskable: { cornerRadius: 0, meshRadius: 0.3, holeRadius: 0.027, holePitch: 0.088 },
};

function hexRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** Inside the square [0,1]^2 with rounded corners of radius r. */
function insideRoundedSquare(x: number, y: number, r: number): boolean {
  if (r === 0) return true;
  const dx = Math.max(r - x, x - (1 - r), 0);
  const dy = Math.max(r - y, y - (1 - r), 0);
  return dx * dx + dy * dy <= r * r;
}

/** On the mesh: inside the disc and outside every hole of a hexagonal grid centred on the icon. */
function onMesh(x: number, y: number, shape: IconShape): boolean {
  const cx = x - 0.5;
  const cy = y - 0.5;
  const r2 = cx * cx + cy * cy;
  if (r2 > shape.meshRadius * shape.meshRadius) return false;
  // A solid rim: only whole holes, stopping short of the edge, as on a real sieve.
  const rim = shape.meshRadius - shape.holePitch * 0.45;
  const rowPitch = shape.holePitch * Math.sqrt(3) / 2;
  const row = Math.round(cy / rowPitch);
  for (const j of [row - 1, row, row + 1]) {
    const offset = (j & 1) === 0 ? 0 : shape.holePitch / 2;
    const i = Math.round((cx - offset) / shape.holePitch);
    for (const k of [i - 1, i, i + 1]) {
      const centreX = k * shape.holePitch + offset;
      const centreY = j * rowPitch;
      if (Math.hypot(centreX, centreY) + shape.holeRadius > rim) continue;
      const hx = cx - centreX;
      const hy = cy - centreY;
      if (hx * hx + hy * hy <= shape.holeRadius * shape.holeRadius) return false;
    }
  }
  return true;
}

/** The icon's pixels, row by row, RGBA with premultiplied-free straight alpha. */
export function renderIcon(size: number, purpose: IconPurpose): Uint8Array {
  if (!Number.isInteger(size) || size < 16) throw new RangeError(`icon size must be an integer >= 16, got ${size}`);
  const shape = SHAPES[purpose];
  const background = hexRgb(ICON_BACKGROUND);
  const out = new Uint8Array(size * size * 4);
  const samples = SUPERSAMPLE * SUPERSAMPLE;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let covered = 0;
      let mesh = 0;
      for (let sy = 0; sy < SUPERSAMPLE; sy++) {
        for (let sx = 0; sx < SUPERSAMPLE; sx++) {
          const x = (px + (sx + 0.5) / SUPERSAMPLE) / size;
          const y = (py + (sy + 0.5) / SUPERSAMPLE) / size;
          if (!insideRoundedSquare(x, y, shape.cornerRadius)) continue;
          covered++;
          if (onMesh(x, y, shape)) mesh++;
        }
      }
      const o = (py * size + px) * 4;
      if (covered === 0) continue; // transparent corner
      const t = mesh / covered;
      for (let c = 0; c < 3; c++) out[o + c] = Math.round(background[c] * (1 - t) + MESH[c] * t);
      out[o + 3] = Math.round((255 * covered) / samples);
    }
  }
  return out;
}

export function iconPng(size: number, purpose: IconPurpose): Buffer {
  return encodePng(size, size, renderIcon(size, purpose));
}
