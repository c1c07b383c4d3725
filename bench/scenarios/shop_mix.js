// Scenario 4: mixed storefront traffic at a fixed arrival rate (open model:
// visits start on schedule whether or not earlier ones finished; a visit that
// cannot start for lack of VUs is counted in `dropped_iterations`).
//
// Each visit is one of: browse the catalogue, read one of my paid orders, track
// a delivery by its tracking number, or check out (place an order, think, pay
// it with the test card that succeeds).
import { sleep } from 'k6';
import { SharedArray } from 'k6/data';
import { gql, loadContext, operation, pick, summaryTo, SUMMARY_TREND_STATS, perOperationThresholds } from './lib.js';
import { isMoney, isOrderDetails, isProductList, isTracked } from './shapes.js';

const OPS = {
  products: operation('products'),
  orderDetails: operation('order_details'),
  trackDelivery: operation('track_delivery'),
  placeOrder: operation('place_order'),
  payOrder: operation('pay_order'),
};
const context = loadContext();
const customers = new SharedArray('customers', () => context.customers.filter((c) => c.paidOrderIds.length > 0));
const skus = context.skus;
const address = context.address;
// Visits per minute, so that rates under one visit a second can be asked for.
const VISITS_PER_MINUTE = Number(__ENV.VISITS_PER_MINUTE || 60);
// Time between placing an order and paying it (typing the card details). The
// order must also reach payments as an event before it can be paid.
const CHECKOUT_THINK_SECONDS = Number(__ENV.CHECKOUT_THINK_SECONDS || 0.5);

export const options = {
  scenarios: {
    shop: {
      executor: 'constant-arrival-rate',
      rate: VISITS_PER_MINUTE,
      timeUnit: '1m',
      duration: __ENV.DURATION || '60s',
      gracefulStop: '5s',
      preAllocatedVUs: Math.max(10, Math.ceil(VISITS_PER_MINUTE / 30)),
      maxVUs: Math.max(50, Math.ceil(VISITS_PER_MINUTE / 10)),
    },
  },
  summaryTrendStats: SUMMARY_TREND_STATS,
  thresholds: perOperationThresholds(Object.keys(OPS)),
};

function browse() {
  gql(__ENV.TARGET_URL, OPS.products, {}, { op: 'products', expect: isProductList });
}

function readOrder(customer) {
  const orderId = pick(customer.paidOrderIds);
  gql(__ENV.TARGET_URL, OPS.orderDetails, { id: orderId }, {
    op: 'orderDetails',
    token: customer.token,
    expect: (data) => isOrderDetails(data, orderId, customer.id),
  });
}

function track(customer) {
  const trackingNumber = pick(customer.trackingNumbers);
  gql(__ENV.TARGET_URL, OPS.trackDelivery, { trackingNumber }, {
    op: 'trackDelivery',
    expect: (data) => isTracked(data, trackingNumber),
  });
}

function checkout(customer) {
  const items = [{ sku: pick(skus), quantity: 1 + Math.floor(Math.random() * 3) }];
  const placed = gql(__ENV.TARGET_URL, OPS.placeOrder, { input: { items, shippingAddress: address } }, {
    op: 'placeOrder',
    token: customer.token,
    expect: (data) => data.placeOrder !== null && data.placeOrder.status === 'PENDING_PAYMENT' && isMoney(data.placeOrder.total),
  });
  if (placed === null) {
    return;
  }
  sleep(CHECKOUT_THINK_SECONDS);
  const input = {
    orderId: placed.placeOrder.id,
    card: { number: '4242424242424242', expMonth: 12, expYear: 2035, cvc: '123' },
    idempotencyKey: `bench-${placed.placeOrder.id}`,
  };
  gql(__ENV.TARGET_URL, OPS.payOrder, { input }, {
    op: 'payOrder',
    token: customer.token,
    expect: (data) => data.payOrder !== null && data.payOrder.status === 'CAPTURED',
  });
}

export default function () {
  const customer = pick(customers);
  const roll = Math.random();
  if (roll < 0.4) {
    browse();
  } else if (roll < 0.65) {
    readOrder(customer);
  } else if (roll < 0.8) {
    track(customer);
  } else {
    checkout(customer);
  }
}

export function handleSummary(data) {
  return summaryTo(data);
}
