// Scenario 3: `me { orders(first: N) { nodes { ... payments delivery } } }` for
// the customer with the most orders, one virtual user, a fixed number of
// iterations. The Python side reads the stores' counters around it.
import { gql, loadContext, operation, summaryTo, SUMMARY_TREND_STATS, perOperationThresholds } from './lib.js';
import { isOrderPage } from './shapes.js';

const MY_ORDERS = operation('my_orders');
const heavy = loadContext().heavyCustomer;
const FIRST = Number(__ENV.FIRST || 10);
const EXPECTED_NODES = Number(__ENV.EXPECTED_NODES || FIRST);

export const options = {
  scenarios: {
    growth: {
      executor: 'shared-iterations',
      vus: 1,
      iterations: Number(__ENV.ITERATIONS || 100),
      maxDuration: __ENV.MAX_DURATION || '120s',
    },
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: perOperationThresholds(['myOrders']),
};

export default function () {
  gql(__ENV.TARGET_URL, MY_ORDERS, { first: FIRST }, {
    op: 'myOrders',
    token: heavy.token,
    expect: (data) => isOrderPage(data, EXPECTED_NODES, heavy.id),
  });
}

export function handleSummary(data) {
  return summaryTo(data);
}
