/** Writes the files generated from the code (scripts/generated.ts) into the repository. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, renderCrd } from './generated.ts';

const root = new URL('../', import.meta.url);
writeFileSync(fileURLToPath(new URL(CRD_FILE, root)), renderCrd());
process.stdout.write(`wrote ${CRD_FILE}\n`);
