// Subscribes to `auditLogCreated` with the reference client `graphql-ws` (what frontends use), for
// tests/api/js_client.rs.
//
//   node subscribe.mjs <ws-url> <token> <environment-key> <count> [--after <cursor>] [--expect-close]
//
// Prints `READY` once the server acknowledged the connection and the subscription was sent, then
// each event (`auditLogCreated`) as one JSON line; exits 0 after <count> events. Any error, close
// or a 30 s timeout: the reason on stderr and a non-zero exit.
//
// With --expect-close the token is expected to be refused: prints `CLOSED <code> <reason>` for the
// close the server ends the connection with and exits 0 (an acknowledged connection exits 1).

import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const TIMEOUT_MS = 30_000;

const QUERY = `subscription ($environmentKey: String!, $after: String) {
  auditLogCreated(environmentKey: $environmentKey, after: $after) {
    id cursor sequence action relatedObjectType relatedObjectId log changes actor { email }
  }
}`;

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    after: { type: 'string' },
    'expect-close': { type: 'boolean', default: false },
  },
});
if (positionals.length !== 4 || !/^\d+$/.test(positionals[3])) {
  process.stderr.write(
    'usage: node subscribe.mjs <ws-url> <token> <environment-key> <count> [--after <cursor>] [--expect-close]\n',
  );
  process.exit(64);
}
const [url, token, environmentKey, countArg] = positionals;
const count = Number(countArg);
const expectClose = options['expect-close'];

let finished = false;
// Writes the last line, then exits once it is flushed.
function finish(code, stream, line) {
  if (finished) return;
  finished = true;
  stream.write(`${line}\n`, () => process.exit(code));
}

function describe(error) {
  if (error && typeof error === 'object' && 'code' in error && 'reason' in error) {
    return `CLOSED ${error.code} ${error.reason}`;
  }
  if (error instanceof Error) return error.stack ?? error.message;
  if (error && typeof error === 'object' && 'message' in error && 'type' in error) {
    return `WebSocket error: ${error.message}`;
  }
  return JSON.stringify(error);
}

function fail(error) {
  finish(1, process.stderr, describe(error));
}

setTimeout(() => {
  finish(2, process.stderr, `timed out after ${TIMEOUT_MS / 1000} s (${received} of ${count} events)`);
}, TIMEOUT_MS);

// READY needs both the acknowledgement and the `subscribe` message on the wire. graphql-ws sends
// `subscribe` a few microtasks after `connected`, so the socket reports when it sends it.
let connected = false;
let subscribed = false;
function readyWhenBoth() {
  if (connected && subscribed && !finished) process.stdout.write('READY\n');
}
class ReportingWebSocket extends WebSocket {
  send(data, ...rest) {
    super.send(data, ...rest);
    if (!subscribed && typeof data === 'string' && JSON.parse(data).type === 'subscribe') {
      subscribed = true;
      readyWhenBoth();
    }
  }
}

const client = createClient({
  url,
  webSocketImpl: ReportingWebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  lazy: false,
  // Any close is the test's answer, not something to retry.
  retryAttempts: 0,
  onNonLazyError: fail,
  on: {
    connected: () => {
      if (expectClose) {
        fail(new Error('the server acknowledged the connection; expected it to be refused'));
        return;
      }
      connected = true;
      readyWhenBoth();
    },
    closed: (event) => {
      if (expectClose) finish(0, process.stdout, describe(event));
      else fail(event);
    },
    error: fail,
  },
});

let received = 0;
client.subscribe(
  { query: QUERY, variables: { environmentKey, after: options.after ?? null } },
  {
    next: (result) => {
      if (finished) return;
      if (result.errors?.length || !result.data?.auditLogCreated) {
        fail(new Error(`event with errors: ${JSON.stringify(result)}`));
        return;
      }
      received += 1;
      if (received < count) {
        process.stdout.write(`${JSON.stringify(result.data.auditLogCreated)}\n`);
      } else {
        finish(0, process.stdout, JSON.stringify(result.data.auditLogCreated));
      }
    },
    error: fail,
    complete: () => fail(new Error(`the server completed the subscription after ${received} of ${count} events`)),
  },
);
