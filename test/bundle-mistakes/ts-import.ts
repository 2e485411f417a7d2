// A handler that imports a .ts module by a computed path: the bundler cannot follow it, so it stays a
// run-time import of a .ts file that the deployed package does not have.
const module = './wasm-file.ts';
const { handler: inner } = (await import(module)) as { handler: () => Promise<number> };

export const handler = async () => inner();
