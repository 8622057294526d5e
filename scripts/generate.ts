/** Writes the files generated from the code (scripts/generated.ts) into the repository. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CRD_FILE, REPORT_SCHEMA_FILE, renderCrd, renderReportSchema } from './generated.ts';

const path = (file: string): string => fileURLToPath(new URL(`../${file}`, import.meta.url));

writeFileSync(path(CRD_FILE), renderCrd());
writeFileSync(path(REPORT_SCHEMA_FILE), renderReportSchema(readFileSync(path(REPORT_SCHEMA_FILE), 'utf8')));
process.stdout.write(`wrote ${CRD_FILE} and ${REPORT_SCHEMA_FILE}\n`);
