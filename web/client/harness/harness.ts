// Test page for the client API: puts web/client's face on window so Playwright can drive it with page.evaluate.
import * as client from '../index.ts';

(window as unknown as { sieveClient: typeof client }).sieveClient = client;
document.body.dataset.ready = 'true';
