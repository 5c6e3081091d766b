// Subscribes to order status changes through weft with the graphql-ws client,
// changes an order's status over HTTP, and prints what the subscription got.
// Usage: node subscribe.mjs <http://host:port/graphql> <orderId> [--go-on-stdin]
// With --go-on-stdin the status is changed once a line arrives on standard
// input (a test sends it when the gateway has the subscription) instead of
// after a moment.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [httpUrl, orderId, mode] = process.argv.slice(2);
const wsUrl = httpUrl.replace(/^http/, 'ws');
const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { token: 'demo' } });

const fail = (error) => {
  console.log(JSON.stringify({ error: String(error?.message ?? JSON.stringify(error)) }));
  process.exit(1);
};
setTimeout(() => fail('timed out waiting for the event'), 20000);

const subscription = client.iterate({
  query: `subscription ($orderId: ID) {
    orderStatusChanged(orderId: $orderId) {
      orderId status previousStatus
      order { id items { quantity product { name } } }
      user { name }
    }
  }`,
  variables: { orderId },
});

// Queries run over the same socket too.
const query = await new Promise((resolve, reject) => {
  let result;
  client.subscribe(
    { query: `{ order(id: "${orderId}") { status } }` },
    { next: (value) => (result = value), error: reject, complete: () => resolve(result) },
  );
}).catch(fail);

// Change the order's status over plain HTTP once the subscription is
// established on the server: when told so on stdin, or after a moment.
const changeStatus = async () => {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `mutation { setOrderStatus(id: "${orderId}", status: CANCELLED) { id } }` }),
  });
  if (!response.ok) fail(`mutation answered ${response.status}`);
};
if (mode === '--go-on-stdin') {
  process.stdin.setEncoding('utf8');
  let told = false;
  process.stdin.on('data', (chunk) => {
    if (!told && chunk.includes('\n')) {
      told = true;
      process.stdin.pause();
      changeStatus().catch(fail);
    }
  });
} else {
  setTimeout(() => changeStatus().catch(fail), 300);
}

for await (const event of subscription) {
  console.log(JSON.stringify({ query, event }));
  break;
}
await client.dispose();
process.exit(0);
