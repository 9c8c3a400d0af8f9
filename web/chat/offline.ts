// The chat page as an installable offline app: registers the service worker that vite-plugin-pwa builds (the app
// shell, precached by Workbox) and asks the browser to keep this origin's storage, where models live (OPFS).
import { registerSW } from 'virtual:pwa-register';

export interface OfflineAppEvents {
  /** The app shell is cached: after this, the page opens with the network off (first install, or already active). */
  onOfflineReady(): void;
  /** A new version is cached and waits; `apply` activates it and reloads the page. */
  onUpdateReady(apply: () => Promise<void>): void;
  onError(error: unknown): void;
}

/**
 * Registers the service worker. In `vite` dev the virtual module is a no-op (vite-plugin-pwa's dev worker is off:
 * a worker caching modules would fight hot reload), so this only acts in the built app (`npm start`).
 */
export function registerOfflineApp(events: OfflineAppEvents): void {
  if (!('serviceWorker' in navigator)) return;
  const update = registerSW({
    immediate: true,
    onOfflineReady: events.onOfflineReady,
    onNeedRefresh: () => events.onUpdateReady(() => update(true)),
    // A later visit installs nothing new: the worker already active means the shell is cached.
    onRegisteredSW: (_url, registration) => { if (registration?.active) events.onOfflineReady(); },
    onRegisterError: events.onError,
  });
}

/**
 * Asks that this origin's storage (the model store in OPFS, the conversations in IndexedDB) be kept under storage
 * pressure. Chromium decides without a prompt (installed apps and engaged sites get it); a refusal changes nothing.
 */
export async function keepStorage(): Promise<boolean> {
  try {
    return await navigator.storage?.persist?.() ?? false;
  } catch {
    return false;
  }
}
