// What the WebAssembly kernels (wasm/, built into core/meanshift/*-wasm.ts as base64) share on the host side.

/** A module's bytes from its base64 text. */
export function wasmBytes(base64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/** Makes a kernel's memory at least `bytes` long (growing detaches the views taken before: take them again). */
export function ensureMemory(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}
