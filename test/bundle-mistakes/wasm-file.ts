// A handler that reads its WebAssembly bytes from a file beside its source: the bundle leaves the file behind.
import { readFileSync } from 'node:fs';

const bytes = readFileSync(new URL('./empty.wasm', import.meta.url));
const instance = await WebAssembly.instantiate(bytes);

export const handler = async () => Object.keys(instance.instance.exports).length;
