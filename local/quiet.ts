// Imported first by the CLIs and the consumer workers: fauxqs loads node:sqlite, and Node 22
// prints an ExperimentalWarning for it. Only that warning is dropped; others print as usual.
const defaultHandlers = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name === 'ExperimentalWarning' && warning.message.includes('SQLite')) return;
  for (const handler of defaultHandlers) handler(warning);
});
