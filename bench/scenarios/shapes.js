// Shape predicates for the data of each canonical operation.
export function isMoney(value) {
  return value !== null && typeof value === 'object'
    && Number.isInteger(value.amount) && typeof value.currency === 'string';
}

export function isProductList(data) {
  return Array.isArray(data.products) && data.products.length > 0
    && data.products.every((p) => typeof p.sku === 'string' && typeof p.name === 'string' && isMoney(p.price));
}

export function isOrderDetails(data, orderId, customerId) {
  const order = data.order;
  return order !== null && order.id === orderId
    && order.customer !== null && order.customer.id === customerId
    && isMoney(order.total) && isMoney(order.amountPaid) && isMoney(order.balanceDue)
    && Array.isArray(order.items) && order.items.length > 0
    && order.items.every((item) => item.product !== null && typeof item.product.name === 'string')
    && Array.isArray(order.payments) && order.payments.length > 0
    // Only paid orders are benchmarked, so the delivery must be there.
    && order.delivery !== null && typeof order.delivery.trackingNumber === 'string'
    && Array.isArray(order.delivery.events);
}

export function isOrderPage(data, expectedNodes, customerId) {
  const me = data.me;
  return me !== null && me.id === customerId
    && Array.isArray(me.orders.nodes) && me.orders.nodes.length === expectedNodes
    && me.orders.nodes.every((o) => typeof o.id === 'string' && isMoney(o.total) && Array.isArray(o.payments)
      && o.payments.every((p) => typeof p.status === 'string'));
}

export function isTracked(data, trackingNumber) {
  const delivery = data.trackDelivery;
  return delivery !== null && delivery.trackingNumber === trackingNumber && Array.isArray(delivery.events);
}
