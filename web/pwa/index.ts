// The PWA module's face for build tools and tests: the Vite plugins, the manifest and the icon renderer.
// The browser side (registering the service worker) lives with the page that does it: web/chat/offline.ts.
export { sievePwa, PRECACHE_MAX_FILE_BYTES, NAVIGATION_FALLBACK_DENYLIST } from './vite-plugin.ts';
export { APP_MANIFEST, APP_ICONS, MANIFEST_FILENAME, type AppIcon } from './manifest.ts';
export { renderIcon, iconPng, ICON_BACKGROUND, type IconPurpose } from './icon.ts';
export { encodePng } from './png.ts';
