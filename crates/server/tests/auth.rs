//! Authentication: user/password and token. Good credentials connect; bad or missing ones
//! get `-ERR 'Authorization Violation'` and are closed; anything before CONNECT is a
//! violation; a silent client is closed with `-ERR 'Authentication Timeout'`.

mod common;

use std::time::{Duration, Instant};

use async_nats::{ConnectErrorKind, ConnectOptions};
use common::{RawClient, TestServer, DEADLINE};
use futures::StreamExt;
use sluice_server::config::AuthConfig;

const AUTH_TIMEOUT: Duration = Duration::from_millis(200);

async fn user_server() -> TestServer {
    TestServer::start(sluice_server::Options {
        auth: AuthConfig {
            user: Some("alice".into()),
            password: Some("s3cret".into()),
            token: None,
        },
        auth_timeout: AUTH_TIMEOUT,
        ..common::opts()
    })
    .await
}

async fn token_server() -> TestServer {
    TestServer::start(sluice_server::Options {
        auth: AuthConfig {
            token: Some("tok-123".into()),
            ..AuthConfig::default()
        },
        auth_timeout: AUTH_TIMEOUT,
        ..common::opts()
    })
    .await
}

/// Connects with `opts`; the connect must finish (either way) before the deadline.
async fn try_connect(
    server: &TestServer,
    opts: ConnectOptions,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    tokio::time::timeout(DEADLINE, opts.connect(&server.url))
        .await
        .expect("connect attempt finished before the deadline")
}

async fn assert_works(client: &async_nats::Client) {
    let mut sub = client.subscribe("auth.check").await.unwrap();
    client.publish("auth.check", "ok".into()).await.unwrap();
    let msg = tokio::time::timeout(DEADLINE, sub.next())
        .await
        .expect("message before the deadline")
        .unwrap();
    assert_eq!(&msg.payload[..], b"ok");
}

#[tokio::test]
async fn user_password_correct_connects() {
    let server = user_server().await;
    let client = try_connect(
        &server,
        ConnectOptions::with_user_and_password("alice".into(), "s3cret".into()),
    )
    .await
    .expect("correct credentials connect");
    assert_works(&client).await;
    // Still connected well past the auth timeout.
    tokio::time::sleep(AUTH_TIMEOUT * 3).await;
    assert_works(&client).await;
    server.shutdown().await;
}

#[tokio::test]
async fn user_password_wrong_is_an_authorization_error() {
    let server = user_server().await;
    for (user, pass) in [
        ("alice", "wrong"),
        ("bob", "s3cret"),
        ("alice", ""),
        ("", ""),
    ] {
        let err = try_connect(
            &server,
            ConnectOptions::with_user_and_password(user.into(), pass.into()),
        )
        .await
        .expect_err("wrong credentials must not connect");
        assert_eq!(
            err.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "user {user:?} pass {pass:?}: {err}"
        );
    }
    let err = try_connect(&server, ConnectOptions::new())
        .await
        .expect_err("no credentials must not connect");
    assert_eq!(
        err.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn token_correct_connects_and_wrong_fails() {
    let server = token_server().await;
    let client = try_connect(&server, ConnectOptions::with_token("tok-123".into()))
        .await
        .expect("correct token connects");
    assert_works(&client).await;

    for token in ["tok-12", "tok-1234", "TOK-123", ""] {
        let err = try_connect(&server, ConnectOptions::with_token(token.into()))
            .await
            .expect_err("wrong token must not connect");
        assert_eq!(
            err.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "token {token:?}: {err}"
        );
    }
    // A user/password is no substitute for the token.
    let err = try_connect(
        &server,
        ConnectOptions::with_user_and_password("tok-123".into(), "tok-123".into()),
    )
    .await
    .expect_err("user/password on a token server");
    assert_eq!(
        err.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "{err}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn info_says_auth_required() {
    let server = user_server().await;
    let raw = RawClient::connect(server.addr).await;
    assert_eq!(raw.info["auth_required"], serde_json::json!(true));
    let open = TestServer::default().await;
    let raw = RawClient::connect(open.addr).await;
    assert_ne!(raw.info["auth_required"], serde_json::json!(true));
    server.shutdown().await;
    open.shutdown().await;
}

#[tokio::test]
async fn raw_bad_connect_gets_authorization_violation_and_close() {
    let server = user_server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"nope\"}\r\nPING\r\n")
        .await;
    let out = raw.read_to_close().await;
    assert_eq!(
        out, "-ERR 'Authorization Violation'\r\n",
        "no PONG after the violation"
    );
    common::wait_for("connection gone", || {
        server.handle().shared().connection_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn raw_good_connect_gets_pong() {
    let server = user_server().await;
    let mut raw = RawClient::connect(server.addr).await;
    let out = raw
        .round_trip(b"CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"alice\",\"pass\":\"s3cret\"}\r\n")
        .await;
    assert_eq!(out, "+OK\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn raw_ping_before_connect_is_an_authorization_violation() {
    let server = user_server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(b"PING\r\n").await;
    let out = raw.read_to_close().await;
    assert_eq!(out, "-ERR 'Authorization Violation'\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn raw_sub_before_connect_is_an_authorization_violation() {
    let server = token_server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(b"SUB foo 1\r\n").await;
    assert_eq!(
        raw.read_to_close().await,
        "-ERR 'Authorization Violation'\r\n"
    );
    assert_eq!(server.handle().shared().router().subscription_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn raw_silent_client_gets_authentication_timeout() {
    let server = user_server().await;
    let started = Instant::now();
    let mut raw = RawClient::connect(server.addr).await;
    let out = raw.read_to_close().await;
    let elapsed = started.elapsed();
    assert_eq!(out, "-ERR 'Authentication Timeout'\r\n");
    assert!(
        elapsed >= AUTH_TIMEOUT - Duration::from_millis(20),
        "closed after {elapsed:?}, before the auth timeout"
    );
    assert!(
        elapsed < AUTH_TIMEOUT + Duration::from_secs(2),
        "closed only after {elapsed:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn raw_partial_connect_still_times_out() {
    // Bytes that are not a complete CONNECT do not stop the auth timer.
    let server = token_server().await;
    let mut raw = RawClient::connect(server.addr).await;
    raw.send(b"CONNECT {\"auth_tok").await;
    let out = raw.read_to_close().await;
    assert_eq!(out, "-ERR 'Authentication Timeout'\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn no_auth_timeout_without_auth() {
    let server = TestServer::start(sluice_server::Options {
        auth_timeout: AUTH_TIMEOUT,
        ..common::opts()
    })
    .await;
    let mut raw = RawClient::connect(server.addr).await;
    // Silent for well past the auth timeout (but before the first server PING at 2 s).
    tokio::time::sleep(AUTH_TIMEOUT * 4).await;
    let out = raw.round_trip(b"").await;
    assert_eq!(out, "", "still connected, nothing sent meanwhile");
    server.shutdown().await;
}
