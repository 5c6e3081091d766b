//! The README's separate-process setup: the three example service
//! binaries, the orders service publishing to NATS (`--nats`) or RabbitMQ
//! (`--rabbitmq`), and `weft serve` with `[events] kind = "nats"` or
//! `"rabbitmq"` — a subscriber gets the order event a mutation causes. With the in-process bus instead, `weft serve`
//! warns at start-up about the subscription no one can publish to.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use weft_tests::nats::free_port;
use weft_tests::process::{WeftProcess, service_binary};
use weft_tests::{GatewayConfig, NatsServer, RabbitMqServer, TestDir, WsClient};

/// An example service binary, killed on drop.
struct ServiceProcess {
    child: Child,
    url: String,
}

impl ServiceProcess {
    fn start(name: &str, args: &[&str]) -> Self {
        let mut child = Command::new(service_binary(name))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the service starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains(" listening on "))
            .expect("the service says where it listens");
        let url = line
            .split(" listening on ")
            .nth(1)
            .expect("an address")
            .trim_end_matches('/')
            .to_owned();
        Self { child, url }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(users: &str, catalog: &str, orders: &str, extra: &str) -> GatewayConfig {
    GatewayConfig::new(weft::demo::SCHEMA)
        .rest_source("users", users, 2000)
        .grpc_source("catalog", catalog, 2000)
        .rest_source("orders", orders, 2000)
        .extra(&format!("[server]\nlisten = \"127.0.0.1:0\"\n\n{extra}"))
}

#[tokio::test]
async fn an_order_event_from_the_orders_process_reaches_a_subscriber_through_nats() {
    let nats = NatsServer::start_on(free_port());
    let events = format!("[events]\nkind = \"nats\"\nurl = \"{}\"\n", nats.url);
    order_event_reaches_a_subscriber(&["--nats", &nats.url], &events).await;
}

/// The orders process publishes to the exchange `[events]` uses by default.
/// Events of other tests on the shared broker may arrive too; they are
/// order 12's as well, so the test holds either way.
#[tokio::test]
async fn an_order_event_from_the_orders_process_reaches_a_subscriber_through_rabbitmq() {
    let rabbitmq = RabbitMqServer::start();
    let events = format!(
        "[events]\nkind = \"rabbitmq\"\nurl = \"{}\"\n",
        rabbitmq.url
    );
    order_event_reaches_a_subscriber(&["--rabbitmq", &rabbitmq.url], &events).await;
}

/// Runs the three services (orders with `orders_args`) and `weft serve`
/// with `events` as its `[events]`, and checks that a subscriber to order
/// 12 gets the event its status change makes.
async fn order_event_reaches_a_subscriber(orders_args: &[&str], events: &str) {
    let users = ServiceProcess::start("users", &[]);
    let catalog = ServiceProcess::start("catalog", &[]);
    let orders = ServiceProcess::start("orders", orders_args);
    let dir = TestDir::new();
    let path = config(&users.url, &catalog.url, &orders.url, events).write(&dir);
    let weft = WeftProcess::start(&["serve", "--config", path.to_str().expect("UTF-8")], &[]);

    let socket = format!("{}/graphql", weft.url.replacen("http", "ws", 1));
    let mut client = WsClient::connect(&socket, "graphql-transport-ws").await;
    client.init(None).await;
    client
        .subscribe(
            "changes",
            r#"subscription { orderStatusChanged(orderId: "12") { orderId status user { name } } }"#,
        )
        .await;
    // The subscription is open once the broker has the gateway's interest;
    // the mutation is repeated until its event shows, so no timing is
    // assumed.
    let mut event = None;
    for status in ["SHIPPED", "DELIVERED", "SHIPPED", "DELIVERED", "SHIPPED"] {
        let mutation =
            format!(r#"mutation {{ setOrderStatus(id: "12", status: {status}) {{ id }} }}"#);
        let answer = weft.query(&mutation).await;
        assert_eq!(answer["data"]["setOrderStatus"]["id"], "12", "{answer}");
        if let Ok(next) =
            tokio::time::timeout(Duration::from_millis(700), client.next("changes")).await
        {
            event = Some(next);
            break;
        }
    }
    let event = event.expect("an order event arrives through the broker");
    let change = &event["data"]["orderStatusChanged"];
    assert_eq!(change["orderId"], "12", "{event}");
    assert!(change["user"]["name"].is_string(), "{event}");
}

#[test]
fn weft_serve_warns_about_subscriptions_nothing_can_publish_to_on_the_in_process_bus() {
    let dir = TestDir::new();
    let path = config(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        "",
    )
    .write(&dir);
    let log = dir.path().join("weft.log");
    let weft = WeftProcess::start_logging(
        &["serve", "--config", path.to_str().expect("UTF-8")],
        &[],
        &log,
    );
    drop(weft);
    let logged = std::fs::read_to_string(&log).expect("the log");
    let warnings: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("WARN"))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|line| line.contains("`Subscription.orderStatusChanged`")
                && line.contains("`orders.status`")),
        "{logged}"
    );
    assert!(
        !warnings.iter().any(|line| line.contains("announcements")),
        "the announce mutation publishes `announcements`: {logged}"
    );
}
