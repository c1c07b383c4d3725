// Scenario 1: one single-subgraph query (`products`, served by orders alone),
// sent by one virtual user back to back, either straight to the orders
// subgraph or through a router. Run once per target; the Python side
// subtracts the latencies.
import { gql, operation, summaryTo, SUMMARY_TREND_STATS, perOperationThresholds } from './lib.js';
import { isProductList } from './shapes.js';

const PRODUCTS = operation('products');

export const options = {
  scenarios: {
    overhead: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 1),
      duration: __ENV.DURATION || '20s',
      gracefulStop: '5s',
    },
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: perOperationThresholds(['products']),
};

export default function () {
  gql(__ENV.TARGET_URL, PRODUCTS, {}, { op: 'products', expect: isProductList });
}

export function handleSummary(data) {
  return summaryTo(data);
}
