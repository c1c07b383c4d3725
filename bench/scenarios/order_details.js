// Scenario 2: the four-subgraph order-details query, closed loop with a fixed
// number of virtual users, against one router (Apollo Router or Gateway).
// Each request reads a random paid order of a random seeded customer with that
// customer's own token.
import { SharedArray } from 'k6/data';
import { gql, loadContext, operation, pick, summaryTo, SUMMARY_TREND_STATS, perOperationThresholds } from './lib.js';
import { isOrderDetails } from './shapes.js';

const ORDER_DETAILS = operation('order_details');
const customers = new SharedArray('customers', () => loadContext().customers.filter((c) => c.paidOrderIds.length > 0));

export const options = {
  scenarios: {
    details: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 8),
      duration: __ENV.DURATION || '30s',
      gracefulStop: '5s',
    },
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: perOperationThresholds(['orderDetails']),
};

export default function () {
  const customer = pick(customers);
  const orderId = pick(customer.paidOrderIds);
  gql(__ENV.TARGET_URL, ORDER_DETAILS, { id: orderId }, {
    op: 'orderDetails',
    token: customer.token,
    expect: (data) => isOrderDetails(data, orderId, customer.id),
  });
}

export function handleSummary(data) {
  return summaryTo(data);
}
