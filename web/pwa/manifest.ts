// The web app manifest: what a browser needs to install the chat page as an app (name, start URL, icons, colours).
import type { IconPurpose } from './icon.ts';
import { ICON_BACKGROUND } from './icon.ts';

export interface AppIcon {
  /** Path of the PNG under the site root, as the build emits it and the manifest names it. */
  path: string;
  size: number;
  purpose: IconPurpose;
}

/**
 * 192 and 512 are the sizes Chromium's installability check and Android's splash screen look for (Chromium wants
 * an icon of at least 144 px); the maskable one lets launchers crop to their own shape without cutting the mesh.
 */
export const APP_ICONS: readonly AppIcon[] = [
  { path: 'icons/icon-192.png', size: 192, purpose: 'any' },
  { path: 'icons/icon-512.png', size: 512, purpose: 'any' },
  { path: 'icons/maskable-512.png', size: 512, purpose: 'maskable' },
];

/** The chat page's light background (web/chat/chat.css --bg): the splash screen before the page paints. */
const SPLASH_BACKGROUND = '#f7f7f8';

export const MANIFEST_FILENAME = 'manifest.webmanifest';

/** The manifest's members (W3C Web Application Manifest); vite-plugin-pwa writes it and links it from the page. */
export const APP_MANIFEST = {
  // A fixed id: the installed app stays the same app if start_url ever changes.
  id: '/',
  name: 'Sieve chat',
  short_name: 'Sieve',
  description: 'Chat with a language model that runs on this device, in the browser, with WebGPU. Works offline once a model is downloaded.',
  lang: 'en',
  start_url: '/',
  scope: '/',
  display: 'standalone' as const,
  background_color: SPLASH_BACKGROUND,
  theme_color: ICON_BACKGROUND,
  categories: ['productivity', 'utilities'],
  icons: APP_ICONS.map((icon) => ({ src: `/${icon.path}`, sizes: `${icon.size}x${icon.size}`, type: 'image/png', purpose: icon.purpose })),
};
