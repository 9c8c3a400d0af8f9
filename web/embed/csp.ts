// Content-Security-Policy of the embed, both sides: what a host page must allow, and what Sieve's frame runs under.

/**
 * The directives a host page needs for Sieve at `sieveOrigin`, added to its own policy: the script, and the frame.
 * Nothing else: the widget has no inline script or style (one constructable stylesheet in its shadow root), the page
 * makes no request to Sieve's origin (everything goes through the frame), and nothing is evaluated.
 */
export function hostDirectives(sieveOrigin: string): { 'script-src': string; 'frame-src': string } {
  return { 'script-src': sieveOrigin, 'frame-src': sieveOrigin };
}

/**
 * The frame page's and its engine worker's own policy (sent as a header by Sieve's server). 'wasm-unsafe-eval':
 * ONNX Runtime Web compiles its WebAssembly (WebAssembly.instantiateStreaming), which CSP counts as evaluation;
 * it allows wasm compilation only, not eval() or new Function(). connect-src: models come from Sieve's origin, the
 * Hugging Face Hub or any https server. No frame-ancestors: any site may embed the frame (the frame's origin gate
 * decides which page it serves; a deployment that restricts embedding adds `frame-ancestors <origins>`).
 */
export const FRAME_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self' https:",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');
