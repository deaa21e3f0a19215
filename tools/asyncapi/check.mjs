// Parses the published AsyncAPI document with the official parser (@asyncapi/parser 3), the
// first thing integrators' code generators and doc tools run on it. Prints every error (and
// warning) with its JSON path and exits 1 when there is any error, so `make test` catches a
// document that an integrator's tools would refuse.
//
// Usage: node tools/asyncapi/check.mjs [path/to/asyncapi.json]
// (default: docs/schemas/asyncapi.json of this checkout).
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = path.resolve(process.argv[2] ?? path.join(here, '..', '..', 'docs', 'schemas', 'asyncapi.json'));

const LEVEL = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, file).parse();

let errors = 0;
let warnings = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors += 1;
  else if (d.severity === DiagnosticSeverity.Warning) warnings += 1;
  else continue; // info and hints are style advice, not problems for integrators
  const where = d.path.length ? '/' + d.path.join('/') : '(document)';
  console.log(`${LEVEL[d.severity]} ${d.code} at ${where}: ${d.message}`);
}
if (errors === 0 && document === undefined) {
  console.log(`error: the parser returned no document for ${file}`);
  errors = 1;
}
console.log(`asyncapi: ${file}: ${errors} error(s), ${warnings} warning(s)`);
process.exit(errors > 0 ? 1 : 0);
