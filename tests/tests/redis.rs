//! The Redis event bus (`[events] kind = "redis"`): two gateway replicas on
//! the same Redis, where an `announce` mutation (`@publish`) on replica A
//! reaches subscribers on replica B and on A; a gateway that starts while
//! Redis is down, or loses it later, subscribes again once Redis is back;
//! a URL that is not Redis's is refused at start-up, saying where.
//!
//! The server is the one on 127.0.0.1:6379, or a `redis-server` started
//! for the test (see [`RedisServer`]); the tests of Redis going away start
//! their own. Every test puts its channels under a prefix of its own, so
//! concurrent tests and test runs on a shared server never see each
//! other's events.

use weft::Gateway;
use weft::config::Config;
use weft_tests::nats::{free_port, isolated_demo_schema, unique_prefix};
use weft_tests::replicas::{
    announce, announced, subscribe_when_up, until_announced, until_subscribed,
};
use weft_tests::{
    ANNOUNCEMENTS_SUBSCRIPTION, CONFIG_FILE, GatewayConfig, RedisServer, Services, TestDir,
    TestGateway, line_of,
};

/// The demo over `services` on the Redis at `url`, its topics under a
/// prefix of its own, loaded from `dir`.
fn redis_config(services: &Services, dir: &TestDir, url: &str) -> Config {
    GatewayConfig::demo(services)
        .schema(&isolated_demo_schema(&unique_prefix()))
        .extra(&format!("[events]\nkind = \"redis\"\nurl = \"{url}\""))
        .load(dir)
        .unwrap_or_else(|problems| panic!("the Redis config does not load:\n{problems}"))
}

async fn gateway(config: &Config) -> TestGateway {
    TestGateway::connect(config)
        .await
        .unwrap_or_else(|problems| panic!("a gateway on Redis does not start:\n{problems}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_on_replica_a_reaches_subscribers_on_replica_b_and_on_a() {
    let redis = RedisServer::start();
    let services = Services::start();
    let dir = TestDir::new();
    let config = redis_config(&services, &dir, &redis.url);
    let a = gateway(&config).await;
    let b = gateway(&config).await;

    let mut on_b = b.ws_ready().await;
    on_b.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let probe = until_subscribed(&mut on_b, "news", || announce(&a, "probe")).await;
    assert_eq!(announced(&probe), "probe");
    let mut on_a = a.ws_ready().await;
    on_a.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let probe = until_subscribed(&mut on_a, "news", || announce(&a, "probe")).await;
    assert_eq!(announced(&probe), "probe");

    announce(&a, "hello from A").await;
    until_announced(&mut on_b, "news", "hello from A").await;
    until_announced(&mut on_a, "news", "hello from A").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_starts_without_redis_and_subscribes_once_it_is_back() {
    let port = free_port();
    let services = Services::start();
    let dir = TestDir::new();
    let config = redis_config(&services, &dir, &format!("redis://127.0.0.1:{port}"));
    let gateway = gateway(&config).await;
    let body = gateway.query(r#"{ user(id: "1") { name } }"#).await;
    assert_eq!(body["data"]["user"]["name"], "Margaret Allen", "{body}");

    let mut client = gateway.ws_ready().await;
    client.subscribe("down", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let error = client.expect("error", "down").await;
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "EVENT_BUS_UNAVAILABLE",
        "{error}"
    );

    let _redis = RedisServer::start_on(port);
    subscribe_when_up(&mut client, &gateway, "up").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_resumes_after_redis_restarts() {
    let port = free_port();
    let redis = RedisServer::start_on(port);
    let services = Services::start();
    let dir = TestDir::new();
    let config = redis_config(&services, &dir, &redis.url);
    let gateway = gateway(&config).await;
    let mut client = gateway.ws_ready().await;
    let before = subscribe_when_up(&mut client, &gateway, "before").await;

    drop(redis);
    let _redis = RedisServer::start_on(port);
    // The subscription made before the restart gets events again.
    let payload = until_subscribed(&mut client, &before, || async {
        // While the gateway reconnects, publishing may be refused.
        let _ = gateway
            .query(r#"mutation { announce(message: "again") { message } }"#)
            .await;
    })
    .await;
    assert_eq!(announced(&payload), "again");
}

#[test]
fn a_url_that_is_not_redis_is_refused_with_its_file_and_line() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .extra("[events]\nkind = \"redis\"\nurl = \"http://127.0.0.1:6379\"");
    let problems = config
        .load(&dir)
        .expect_err("a http:// URL for Redis is refused")
        .to_string();
    let line = line_of(&config.toml(), "url = \"http://127.0.0.1:6379\"");
    assert!(
        problems.contains(&format!("{CONFIG_FILE}:{line}:")),
        "{problems}"
    );
    assert!(
        problems.contains("must start with redis:// or rediss://"),
        "{problems}"
    );
}

#[tokio::test]
async fn a_malformed_redis_url_stops_the_start_up_naming_it() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = redis_config(&services, &dir, "redis://127.0.0.1:not-a-port");
    let Err(problems) = Gateway::connect(&config).await else {
        panic!("the gateway started on a malformed Redis URL");
    };
    let problems = problems.to_string();
    assert!(problems.contains(CONFIG_FILE), "{problems}");
    assert!(
        problems.contains("cannot use Redis at redis://127.0.0.1:not-a-port"),
        "{problems}"
    );
}
