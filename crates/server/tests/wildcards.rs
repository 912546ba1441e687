//! Wildcard subscriptions as clients see them: `*` matches exactly one token, `>` one or
//! more trailing tokens; messages arrive with the published subject.

mod common;

use async_nats::{Client, Subscriber};
use common::{TestServer, DEADLINE};
use futures::StreamExt;

/// Subjects published in every case, in this order.
const PUBLISHED: &[&str] = &[
    "foo",
    "foo.bar",
    "foo.bar.baz",
    "foo.baz",
    "bar",
    "bar.foo",
    "foo.x.baz",
    "fo.bar",
    "foo.bar.baz.qux",
];

/// Publishes every subject in [`PUBLISHED`], then `sentinel` (which the pattern matches)
/// with payload `end`, and returns the subjects the subscription saw before the sentinel.
async fn seen_by(
    server: &TestServer,
    client: &Client,
    pattern: &str,
    sentinel: &str,
) -> Vec<String> {
    let mut sub = client.subscribe(pattern.to_owned()).await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("the wildcard subscription", || {
        router.subscription_count() == 1
    })
    .await;
    // A different connection publishes, so routing (not client-side filtering) is tested.
    let publisher = server.client().await;
    for subject in PUBLISHED {
        publisher
            .publish(*subject, format!("payload of {subject}").into())
            .await
            .unwrap();
    }
    publisher
        .publish(sentinel.to_owned(), "end".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let seen = collect_until_sentinel(&mut sub, sentinel).await;
    sub.unsubscribe().await.unwrap();
    common::wait_for("the unsubscribe", || router.subscription_count() == 0).await;
    seen
}

async fn collect_until_sentinel(sub: &mut Subscriber, sentinel: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let msg = tokio::time::timeout(DEADLINE, sub.next())
            .await
            .unwrap_or_else(|_| panic!("sentinel {sentinel} not received; saw {seen:?}"))
            .expect("subscription open");
        if msg.payload == "end" {
            assert_eq!(msg.subject.as_str(), sentinel);
            return seen;
        }
        // The message keeps the subject it was published to, with its own payload.
        assert_eq!(
            msg.payload,
            format!("payload of {}", msg.subject),
            "payload belongs to the subject"
        );
        seen.push(msg.subject.to_string());
    }
}

#[tokio::test]
async fn star_matches_exactly_one_token() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, "foo.*", "foo.end").await;
    assert_eq!(seen, ["foo.bar", "foo.baz"]);
    server.shutdown().await;
}

#[tokio::test]
async fn star_in_the_middle() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, "foo.*.baz", "foo.end.baz").await;
    assert_eq!(seen, ["foo.bar.baz", "foo.x.baz"]);
    server.shutdown().await;
}

#[tokio::test]
async fn star_first_token() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, "*.bar", "end.bar").await;
    assert_eq!(seen, ["foo.bar", "fo.bar"]);
    server.shutdown().await;
}

#[tokio::test]
async fn lone_star_matches_single_token_subjects() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, "*", "end").await;
    assert_eq!(seen, ["foo", "bar"]);
    server.shutdown().await;
}

#[tokio::test]
async fn full_wildcard_matches_one_or_more_trailing_tokens() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, "foo.>", "foo.end").await;
    assert_eq!(
        seen,
        [
            "foo.bar",
            "foo.bar.baz",
            "foo.baz",
            "foo.x.baz",
            "foo.bar.baz.qux"
        ],
        "foo.> gets everything below foo but not foo itself"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn lone_full_wildcard_matches_everything() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, ">", "end").await;
    assert_eq!(seen, PUBLISHED);
    server.shutdown().await;
}

#[tokio::test]
async fn star_and_full_wildcard_combined() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, "*.bar.>", "end.bar.end").await;
    assert_eq!(seen, ["foo.bar.baz", "foo.bar.baz.qux"]);
    server.shutdown().await;
}

#[tokio::test]
async fn literal_subscription_is_exact_and_case_sensitive() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let seen = seen_by(&server, &client, "foo.bar", "foo.bar").await;
    assert_eq!(seen, ["foo.bar"]);

    let mut sub = client.subscribe("Foo.Bar").await.unwrap();
    client
        .publish("foo.bar", "payload of foo.bar".into())
        .await
        .unwrap();
    client.publish("Foo.Bar", "end".into()).await.unwrap();
    assert_eq!(
        collect_until_sentinel(&mut sub, "Foo.Bar").await,
        Vec::<String>::new()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn overlapping_subscriptions_on_one_connection_each_get_a_copy() {
    let server = TestServer::default().await;
    let client = server.client().await;
    let mut exact = client.subscribe("foo.bar").await.unwrap();
    let mut star = client.subscribe("foo.*").await.unwrap();
    let mut full = client.subscribe("foo.>").await.unwrap();
    let mut all = client.subscribe(">").await.unwrap();
    let router = server.handle().shared().router();
    common::wait_for("4 subscriptions", || router.subscription_count() == 4).await;

    let publisher = server.client().await;
    publisher
        .publish("foo.bar", "payload of foo.bar".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    for (name, sub) in [
        ("foo.bar", &mut exact),
        ("foo.*", &mut star),
        ("foo.>", &mut full),
        (">", &mut all),
    ] {
        let msg = tokio::time::timeout(DEADLINE, sub.next())
            .await
            .unwrap_or_else(|_| panic!("{name} got no copy"))
            .unwrap();
        assert_eq!(msg.subject.as_str(), "foo.bar", "{name}");
    }
    server.shutdown().await;
}
