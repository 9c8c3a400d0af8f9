// The embed module's face for build tools and tests: the Vite plugin, the CSP directives and the script's name.
// The browser side (sieve-embed.ts, the script; frame.ts, the frame page) are entry points nobody imports.
export { sieveEmbed } from './vite-plugin.ts';
export { FRAME_CSP, hostDirectives } from './csp.ts';
export { EMBED_PROTOCOL, EMBED_SCRIPT_NAME, FRAME_PATH } from './protocol.ts';
