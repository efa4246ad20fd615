// `npm test` runs this first (pretest): fail fast, with one clear message, when the interlink binary is missing.
try {
  const { BIN } = await import('./harness.mjs');
  console.log(`interlink binary under test: ${BIN}`);
} catch (e) {
  console.error(`\n${e.message}\n`);
  process.exit(1);
}
