// Runs the GraphQL over HTTP specification's audit suite (graphql-http's `auditServer`) against a
// running server, for tests/api/graphql_http.rs.
//
//   node audit.mjs <http-url-of-/graphql>
//
// Prints one line per audit: `<status> <id> <name>[: <reason>]`, status `ok`, `error` (a failed
// MUST), `warn` (a failed SHOULD) or `notice` (a failed MAY), then a `SUMMARY` line with the
// counts. Exits 1 when any MUST or SHOULD failed, 2 on a usage or fatal error.

import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <http-url-of-/graphql>');
  process.exit(2);
}

try {
  const results = await auditServer({ url });
  const counts = { ok: 0, error: 0, warn: 0, notice: 0 };
  for (const result of results) {
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    const reason = result.status === 'ok' ? '' : `: ${result.reason}`;
    console.log(`${result.status} ${result.id} ${result.name}${reason}`);
  }
  console.log(
    `SUMMARY ok=${counts.ok} error=${counts.error} warn=${counts.warn} notice=${counts.notice}`,
  );
  process.exit(counts.error + counts.warn > 0 ? 1 : 0);
} catch (err) {
  console.error(`the audit could not run: ${err?.stack ?? err}`);
  process.exit(2);
}
