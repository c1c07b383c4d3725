// Scenario 1: one single-subgraph query (`products`, served by orders alone),
// sent by one virtual user back to back, alternately straight to the orders
// subgraph and through the router (in random order within each iteration), so
// both see the same background load. The Python side subtracts the latencies
// of the two targets.
import { gql, operation, summaryTo, SUMMARY_TREND_STATS } from './lib.js';
import { isProductList } from './shapes.js';

const PRODUCTS = operation('products');
const TARGETS = { direct: __ENV.DIRECT_URL, router: __ENV.ROUTER_URL };

export const options = {
  scenarios: {
    overhead: {
      executor: 'constant-vus',
      vus: 1,
      duration: __ENV.DURATION || '20s',
      gracefulStop: '5s',
    },
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  // Always-true thresholds keep the per-target sub-metrics in the summary.
  thresholds: {
    'http_req_duration{target:direct}': ['max>=0'],
    'http_req_duration{target:router}': ['max>=0'],
    'shop_errors{target:direct}': ['count>=0'],
    'shop_errors{target:router}': ['count>=0'],
    shop_errors: ['count>=0'],
  },
};

export default function () {
  const order = Math.random() < 0.5 ? ['direct', 'router'] : ['router', 'direct'];
  for (const target of order) {
    gql(TARGETS[target], PRODUCTS, {}, { op: 'products', tags: { target }, expect: isProductList });
  }
}

export function handleSummary(data) {
  return summaryTo(data);
}
