// Shared by every scenario: one GraphQL call, with every response checked.
//
// A response counts as good only if it is HTTP 200, parses as JSON, has no
// `errors`, and its `data` has the expected shape (the `expect` callback).
// Anything else adds 1 to the `shop_errors` counter (tagged with the
// operation) and the first few of each VU are logged to stderr, so errors are
// counted and shown, never hidden.
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';

export const shopErrors = new Counter('shop_errors');
const MAX_LOGGED_ERRORS_PER_VU = 3;
let loggedErrors = 0;

// k6 only resolves open() in the init stage, relative to the script.
export function operation(name) {
  return open(`../operations/${name}.graphql`);
}

export function loadContext() {
  const path = __ENV.BENCH_CONTEXT;
  if (!path) {
    throw new Error('BENCH_CONTEXT (the JSON file written by `python -m bench`) is not set');
  }
  return JSON.parse(open(path));
}

// Trend stats every summary carries; the Python side reads p(50)/p(95)/p(99).
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];

// Always-true thresholds make k6 keep per-operation sub-metrics in the summary.
export function perOperationThresholds(ops) {
  const thresholds = {};
  for (const op of ops) {
    thresholds[`http_req_duration{op:${op}}`] = ['max>=0'];
    thresholds[`shop_errors{op:${op}}`] = ['count>=0'];
  }
  thresholds.shop_errors = ['count>=0'];
  return thresholds;
}

export function gql(url, query, variables, { op, token, expect, tags = {} }) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  const response = http.post(url, JSON.stringify({ query, variables }), {
    headers,
    tags: { op, ...tags },
    timeout: '10s',
  });
  let body = null;
  try {
    body = response.json();
  } catch (_) {
    body = null;
  }
  const data = body && body.data ? body.data : null;
  const ok = check(response, {
    'HTTP 200': (r) => r.status === 200,
    'no GraphQL errors': () => body !== null && !body.errors,
    'expected shape': () => data !== null && expect(data) === true,
  }, { op, ...tags });
  if (!ok) {
    shopErrors.add(1, { op, ...tags });
    if (loggedErrors < MAX_LOGGED_ERRORS_PER_VU) {
      loggedErrors += 1;
      const text = String(response.body || response.error || '').slice(0, 300);
      console.error(`shop_error op=${op} vu=${exec.vu.idInTest} status=${response.status} body=${text}`);
    }
    return null;
  }
  return data;
}

export function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

export function summaryTo(data) {
  const path = __ENV.SUMMARY_FILE;
  if (!path) {
    return { stdout: JSON.stringify(data.metrics.http_reqs || {}) + '\n' };
  }
  return { [path]: JSON.stringify(data, null, 1) };
}
