use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<(Options, Vec<ConfigWarning>), ConfigError> {
    let map = sluice_conf::parse_str(text, Path::new("test.conf"))?;
    options_from_map(&map)
}

#[track_caller]
fn opts(text: &str) -> Options {
    match parse(text) {
        Ok((o, _)) => o,
        Err(e) => panic!("{text:?}: {e}"),
    }
}

#[track_caller]
fn warnings(text: &str) -> Vec<String> {
    match parse(text) {
        Ok((_, w)) => w.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("{text:?}: {e}"),
    }
}

#[track_caller]
fn error(text: &str) -> ConfigError {
    match parse(text) {
        Ok((o, _)) => panic!("{text:?}: expected an error, got {o:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults() {
    let o = Options::default();
    assert_eq!(o.host, "0.0.0.0");
    assert_eq!(o.port, 4222);
    assert_eq!(o.server_name, None);
    assert_eq!(o.max_payload, 1_048_576);
    assert_eq!(o.max_pending, 64 * 1024 * 1024);
    assert_eq!(o.max_control_line, 4096);
    assert_eq!(o.max_connections, 65536);
    assert_eq!(o.ping_interval, Duration::from_secs(120));
    assert_eq!(o.ping_max, 2);
    assert_eq!(o.write_deadline, Duration::from_secs(10));
    assert_eq!(o.auth_timeout, Duration::from_secs(2));
    assert!(!o.jetstream);
    assert!(o.logtime);
    assert!(!o.debug && !o.trace && !o.no_header_support);
    assert_eq!(o.auth, AuthConfig::default());
    assert_eq!(o.http_port, None);
    assert!(o.validate().is_ok());
    // An empty config yields the defaults.
    assert_eq!(opts(""), o);
}

#[test]
fn keys_and_aliases() {
    // (config, check)
    type Check = fn(&Options) -> bool;
    let cases: &[(&str, Check)] = &[
        ("host: 127.0.0.1", |o| o.host == "127.0.0.1"),
        ("net: 10.0.0.1", |o| o.host == "10.0.0.1"),
        ("HOST: localhost", |o| o.host == "localhost"),
        ("port: 4333", |o| o.port == 4333),
        ("Port = -1", |o| o.port == -1),
        ("port: 0", |o| o.port == 4222),
        ("listen: 127.0.0.1:4333", |o| o.host == "127.0.0.1" && o.port == 4333),
        ("listen: \"[::1]:4333\"", |o| o.host == "::1" && o.port == 4333),
        ("listen: \":4333\"", |o| o.host == "0.0.0.0" && o.port == 4333),
        ("host: 1.2.3.4\nlisten: 4333", |o| o.host == "1.2.3.4" && o.port == 4333),
        ("listen: localhost:-1", |o| o.host == "localhost" && o.port == -1),
        ("server_name: n1", |o| o.server_name.as_deref() == Some("n1")),
        ("max_payload: 2MB", |o| o.max_payload == 2 * 1024 * 1024),
        ("max_payload: 1000", |o| o.max_payload == 1000),
        ("max_payload: 0", |o| o.max_payload == 1_048_576),
        ("max_pending: 128MB", |o| o.max_pending == 128 * 1024 * 1024),
        ("max_pending: 0", |o| o.max_pending == 64 * 1024 * 1024),
        ("max_control_line: 8k", |o| o.max_control_line == 8000),
        ("max_control_line: 0", |o| o.max_control_line == 4096),
        ("max_connections: 100", |o| o.max_connections == 100),
        ("max_conn: 7", |o| o.max_connections == 7),
        ("max_connections: 0", |o| o.max_connections == 0),
        ("ping_interval: \"30s\"", |o| o.ping_interval == Duration::from_secs(30)),
        ("ping_interval: 1h30m", |o| o.ping_interval == Duration::from_secs(5400)),
        ("ping_interval: 500ms", |o| o.ping_interval == Duration::from_millis(500)),
        ("ping_interval: \"1.5s\"", |o| o.ping_interval == Duration::from_millis(1500)),
        ("ping_interval: 1.5s", |o| o.ping_interval == Duration::from_millis(1500)),
        ("ping_interval: 5", |o| o.ping_interval == Duration::from_secs(5)),
        ("ping_interval: \"0s\"", |o| o.ping_interval == Duration::from_secs(120)),
        ("ping_max: 5", |o| o.ping_max == 5),
        ("ping_max: 0", |o| o.ping_max == 2),
        ("write_deadline: \"2s\"", |o| o.write_deadline == Duration::from_secs(2)),
        ("write_deadline: 3", |o| o.write_deadline == Duration::from_secs(3)),
        ("debug: true", |o| o.debug),
        ("trace: on", |o| o.trace),
        ("trace_verbose: true", |o| o.trace),
        ("logtime: false", |o| !o.logtime),
        ("logfile: /tmp/s.log", |o| o.log_file.as_deref() == Some(Path::new("/tmp/s.log"))),
        ("log_file: \"/tmp/a b.log\"", |o| o.log_file.as_deref() == Some(Path::new("/tmp/a b.log"))),
        ("logfile: \"\"", |o| o.log_file.is_none()),
        ("http: 8222", |o| o.http_port == Some(8222) && o.http_host.is_none()),
        ("http: 127.0.0.1:-1", |o| o.http_port == Some(-1) && o.http_host.as_deref() == Some("127.0.0.1")),
        ("http: 0", |o| o.http_port.is_none()),
        ("http_port: 8222", |o| o.http_port == Some(8222)),
        ("monitor_port: -1", |o| o.http_port == Some(-1)),
        ("pidfile: /tmp/s.pid", |o| o.pid_file.as_deref() == Some(Path::new("/tmp/s.pid"))),
        ("pid_file: x.pid", |o| o.pid_file.as_deref() == Some(Path::new("x.pid"))),
        ("ports_file_dir: /tmp", |o| o.ports_file_dir.as_deref() == Some(Path::new("/tmp"))),
        ("no_header_support: true", |o| o.no_header_support),
        ("store_dir: /tmp/js", |o| o.store_dir.as_deref() == Some(Path::new("/tmp/js")) && !o.jetstream),
        ("storedir: /tmp/js", |o| o.store_dir.as_deref() == Some(Path::new("/tmp/js"))),
        // jetstream
        ("jetstream: true", |o| o.jetstream),
        ("jetstream: false", |o| !o.jetstream),
        ("jetstream: enabled", |o| o.jetstream),
        ("jetstream: Enable", |o| o.jetstream),
        ("jetstream: disabled", |o| !o.jetstream),
        ("jetstream: disable", |o| !o.jetstream),
        ("jetstream {}", |o| o.jetstream),
        ("jetstream { enabled: false }", |o| !o.jetstream),
        ("jetstream { enable: true }", |o| o.jetstream),
        ("jetstream { store_dir: /d }", |o| o.store_dir.as_deref() == Some(Path::new("/d"))),
        ("jetstream { store: /d }", |o| o.store_dir.as_deref() == Some(Path::new("/d"))),
        ("jetstream { StoreDir: /d }", |o| o.store_dir.as_deref() == Some(Path::new("/d"))),
        ("jetstream { max_memory_store: 1GB }", |o| o.max_memory_store == Some(1 << 30)),
        ("jetstream { max_mem_store: 1048576 }", |o| o.max_memory_store == Some(1_048_576)),
        ("jetstream { max_mem: \"1G\" }", |o| o.max_memory_store == Some(1 << 30)),
        ("jetstream { max_mem: \"512M\" }", |o| o.max_memory_store == Some(512 << 20)),
        ("jetstream { max_mem: \"10K\" }", |o| o.max_memory_store == Some(10 << 10)),
        ("jetstream { max_mem: \"2GB\" }", |o| o.max_memory_store == Some(2 << 30)),
        ("jetstream { max_mem: -1 }", |o| o.max_memory_store == Some(-1)),
        ("jetstream { max_file_store: \"1T\" }", |o| o.max_file_store == Some(1 << 40)),
        ("jetstream { max_file: 10g }", |o| o.max_file_store == Some(10_000_000_000)),
        ("jetstream { sync_interval: always }", |o| o.sync_interval == Some(SyncInterval::Always)),
        ("jetstream { sync: ALWAYS }", |o| o.sync_interval == Some(SyncInterval::Always)),
        ("jetstream { sync: \"1m\" }", |o| o.sync_interval == Some(SyncInterval::Every(Duration::from_secs(60)))),
        ("jetstream { sync_interval: 10s }", |o| o.sync_interval == Some(SyncInterval::Every(Duration::from_secs(10)))),
        ("jetstream { sync: 5 }", |o| o.sync_interval == Some(SyncInterval::Every(Duration::from_secs(5)))),
        // authorization
        ("authorization { user: u, password: p }", |o| o.auth.user.as_deref() == Some("u") && o.auth.password.as_deref() == Some("p")),
        ("authorization { username: u, pass: p }", |o| o.auth.user.as_deref() == Some("u") && o.auth.password.as_deref() == Some("p")),
        ("authorization { token: s3cr3t }", |o| o.auth.token.as_deref() == Some("s3cr3t")),
        ("authorization { user: \"\" }", |o| o.auth.user.is_none()),
        ("authorization { timeout: 5 }", |o| o.auth_timeout == Duration::from_secs(5)),
        ("authorization { timeout: 0.5 }", |o| o.auth_timeout == Duration::from_millis(500)),
        ("authorization { timeout: \"3s\" }", |o| o.auth_timeout == Duration::from_secs(3)),
        ("authorization { timeout: 0 }", |o| o.auth_timeout == Duration::from_secs(2)),
        ("authorization { password: $2a$11$W2zko751KUvVy59mUTWmpOdWXwGD/Qhy0oFZGlbskHHbdaYWyFg7i }",
            |o| o.auth.password.as_deref() == Some("$2a$11$W2zko751KUvVy59mUTWmpOdWXwGD/Qhy0oFZGlbskHHbdaYWyFg7i")),
        ("AUTHORIZATION { USER: u }", |o| o.auth.user.as_deref() == Some("u")),
        // later keys override earlier ones
        ("port: 1\nport: 2", |o| o.port == 2),
        ("port: 1\nlisten: 0.0.0.0:3", |o| o.port == 3),
        ("debug: true\nDebug: false", |o| !o.debug),
    ];
    for (text, check) in cases {
        let o = opts(text);
        assert!(check(&o), "{text:?} gave {o:#?}");
    }
}

#[test]
fn type_and_value_errors() {
    // (config, line, key, message fragment)
    let cases: &[(&str, u32, &str, &str)] = &[
        (
            "port: abc",
            1,
            "port",
            "expected an integer, got string \"abc\"",
        ),
        ("port: 1.5", 1, "port", "expected an integer, got float 1.5"),
        ("\n\nport: 70000", 3, "port", "out of range"),
        ("port: -2", 1, "port", "out of range"),
        ("listen: [1]", 1, "listen", "expected port or host:port"),
        ("listen: \"::1\"", 1, "listen", "too many colons"),
        ("listen: localhost", 1, "listen", "missing port"),
        ("listen: localhost:abc", 1, "listen", "could not parse port"),
        ("listen: localhost:99999", 1, "listen", "out of range"),
        ("http: \"x\"", 1, "http", "missing port"),
        (
            "http_port: true",
            1,
            "http_port",
            "expected an integer, got boolean true",
        ),
        (
            "server_name: 5",
            1,
            "server_name",
            "expected a string, got integer 5",
        ),
        (
            "server_name: \"a b\"",
            1,
            "server_name",
            "cannot contain spaces",
        ),
        (
            "max_payload: \"1MB\"",
            1,
            "max_payload",
            "write sizes unquoted",
        ),
        ("max_payload: -1", 1, "max_payload", "must not be negative"),
        ("max_payload: 3GB", 1, "max_payload", "too big"),
        (
            "max_payload: 100MB\nmax_pending: 10MB",
            1,
            "max_payload",
            "cannot be higher than max_pending",
        ),
        (
            "max_pending: 1000",
            1,
            "max_pending",
            "cannot be higher than max_pending",
        ),
        (
            "max_control_line: [1]",
            1,
            "max_control_line",
            "expected an integer, got array",
        ),
        (
            "max_connections: -5",
            1,
            "max_connections",
            "must not be negative",
        ),
        (
            "ping_interval: \"2x\"",
            1,
            "ping_interval",
            "unknown unit \"x\"",
        ),
        ("ping_interval: \"-1s\"", 1, "ping_interval", "negative"),
        (
            "ping_interval: -1",
            1,
            "ping_interval",
            "must not be negative",
        ),
        (
            "ping_interval: 1.5",
            1,
            "ping_interval",
            "expected a duration string",
        ),
        ("ping_interval: \"10\"", 1, "ping_interval", "missing unit"),
        ("ping_max: -1", 1, "ping_max", "must not be negative"),
        ("ping_max: 5000000000", 1, "ping_max", "too big"),
        (
            "write_deadline: true",
            1,
            "write_deadline",
            "expected a duration string",
        ),
        ("debug: \"true\"", 1, "debug", "expected a boolean"),
        ("DEBUG: 1", 1, "DEBUG", "expected a boolean"),
        ("logtime: yes please", 1, "logtime", ""), // parse error, checked below
        ("logfile: 5", 1, "logfile", "expected a string"),
        ("pidfile: [a]", 1, "pidfile", "expected a string"),
        (
            "no_header_support: 0",
            1,
            "no_header_support",
            "expected a boolean",
        ),
        (
            "jetstream: maybe",
            1,
            "jetstream",
            "expected 'enabled' or 'disabled'",
        ),
        (
            "jetstream: 1",
            1,
            "jetstream",
            "expected a boolean, 'enabled', 'disabled' or a map",
        ),
        (
            "jetstream {\n  max_mem: \"1X\"\n}",
            2,
            "jetstream.max_mem",
            "must end in K, M, G or T",
        ),
        (
            "jetstream {\n  max_file: \"abcG\"\n}",
            2,
            "jetstream.max_file",
            "must end in K, M, G or T",
        ),
        (
            "jetstream { max_file: \"99999999999T\" }",
            1,
            "jetstream.max_file",
            "out of range",
        ),
        (
            "jetstream { max_file: true }",
            1,
            "jetstream.max_file",
            "expected a size",
        ),
        (
            "jetstream { enabled: \"x\" }",
            1,
            "jetstream.enabled",
            "expected a boolean",
        ),
        (
            "jetstream { sync: \"sometimes\" }",
            1,
            "jetstream.sync",
            "invalid duration",
        ),
        (
            "jetstream { store_dir: 5 }",
            1,
            "jetstream.store_dir",
            "expected a string",
        ),
        (
            "store_dir: /a\njetstream {\n store_dir: /b\n}",
            3,
            "jetstream.store_dir",
            "duplicate 'store_dir'",
        ),
        (
            "jetstream { store_dir: /b }\nstore_dir: /a",
            2,
            "store_dir",
            "duplicate 'store_dir'",
        ),
        (
            "authorization: true",
            1,
            "authorization",
            "expected a map, got boolean true",
        ),
        (
            "authorization {\n user: 5\n}",
            2,
            "authorization.user",
            "expected a string, got integer 5",
        ),
        (
            "authorization { password: [] }",
            1,
            "authorization.password",
            "expected a string",
        ),
        (
            "authorization { token: {} }",
            1,
            "authorization.token",
            "expected a string, got map",
        ),
        (
            "authorization { timeout: -1 }",
            1,
            "authorization.timeout",
            "invalid timeout",
        ),
        (
            "authorization { timeout: \"x\" }",
            1,
            "authorization.timeout",
            "invalid duration",
        ),
        (
            "authorization { timeout: [] }",
            1,
            "authorization.timeout",
            "expected seconds",
        ),
        (
            "authorization { user: a, token: b }",
            1,
            "authorization",
            "cannot have a user/password and a token",
        ),
        (
            "authorization { password: a, token: b }",
            1,
            "authorization",
            "cannot have a user/password and a token",
        ),
    ];
    for &(text, line, key, frag) in cases {
        let e = error(text);
        if frag.is_empty() {
            assert!(matches!(e, ConfigError::Parse(_)), "{text:?}: {e}");
            continue;
        }
        match &e {
            ConfigError::Invalid {
                file,
                line: l,
                key: k,
                message,
            } => {
                assert_eq!(file, Path::new("test.conf"), "{text:?}");
                assert_eq!(*l, line, "{text:?}: {e}");
                assert_eq!(k, key, "{text:?}: {e}");
                assert!(message.contains(frag), "{text:?}: {e}");
                assert_eq!(
                    e.to_string(),
                    format!("test.conf:{line}: key \"{key}\": {message}")
                );
            }
            other => panic!("{text:?}: unexpected error kind {other:?}"),
        }
    }
}

#[test]
fn error_display_example() {
    let e = error("\n\nport: abc");
    assert_eq!(
        e.to_string(),
        "test.conf:3: key \"port\": expected an integer, got string \"abc\""
    );
}

#[test]
fn parse_errors_are_wrapped() {
    let e = error("port: [1, 2");
    let ConfigError::Parse(inner) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(inner.line, 1);
    assert!(e.to_string().starts_with("test.conf:1:"), "{e}");
}

#[test]
fn unknown_and_unsupported_keys_warn() {
    let text = "port: 4222\nfoo: 1\ncluster { name: c }\n# no tls here\n\
                jetstream {\n  domain: d\n  bogus: 1\n}\n\
                authorization {\n  # no users\n  whatever: 2\n}\n\
                leafnodes { listen: 127.0.0.1:-1 }\nserver_tags: [a]";
    let (o, w) = parse(text).unwrap();
    assert_eq!(o.port, 4222);
    assert!(o.jetstream);
    let lines: Vec<String> = w.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "test.conf:2: unknown field \"foo\"",
            "test.conf:3: unsupported field \"cluster\" is ignored",
            "test.conf:6: unsupported field \"jetstream.domain\" is ignored",
            "test.conf:7: unknown field \"jetstream.bogus\"",
            "test.conf:11: unknown field \"authorization.whatever\"",
            "test.conf:13: unsupported field \"leafnodes\" is ignored",
            "test.conf:14: unsupported field \"server_tags\" is ignored",
        ]
    );
    assert_eq!(w[0].key, "foo");
    assert_eq!(w[0].line, 2);
    assert_eq!(w[0].file, PathBuf::from("test.conf"));
    assert_eq!(w[3].key, "jetstream.bogus");
}

#[test]
fn unsupported_security_keys_are_refused() {
    for (text, key) in [
        ("tls { cert_file: x }", "tls"),
        (
            "authorization {\n  users: [{user: a, password: b}]\n}",
            "users",
        ),
        ("accounts { A: {} }", "accounts"),
    ] {
        let e = error(text);
        let shown = e.to_string();
        assert!(
            shown.contains(key) && shown.contains("refusing to start"),
            "{shown}"
        );
    }
}

#[test]
fn keys_used_as_variables_do_not_warn() {
    let (o, w) = parse("my_port: 4333\nport: $my_port\nunused: 1").unwrap();
    assert_eq!(o.port, 4333);
    let lines: Vec<String> = w.iter().map(ToString::to_string).collect();
    assert_eq!(lines, ["test.conf:3: unknown field \"unused\""]);

    let (o, w) = parse("authorization {\n  PASS: secret\n  user: a\n  password: $PASS\n}").unwrap();
    assert_eq!(o.auth.password.as_deref(), Some("secret"));
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn deprecation_and_limit_warnings() {
    let w = warnings("ping_interval: 30");
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("test.conf:1: ping_interval should be a duration string"),
        "{w:?}"
    );

    let w = warnings("jetstream {\n sync: 5\n}");
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("test.conf:2: jetstream.sync should be a duration"),
        "{w:?}"
    );

    let w = warnings("max_payload: 16MB\nmax_pending: 64MB");
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("over 8MB"), "{w:?}");
    assert!(warnings("max_payload: 8MB").is_empty());

    let w = warnings("authorization { timeout: 120 }");
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("under 60 seconds"), "{w:?}");

    // The classic trap: unquoted 2m is the integer 2,000,000.
    let (o, w) = parse("ping_interval: 2m").unwrap();
    assert_eq!(o.ping_interval, Duration::from_secs(2_000_000));
    assert_eq!(w.len(), 1);
}

#[test]
fn variables_and_env() {
    std::env::set_var("SLUICE_CFG_T_PORT", "4555");
    std::env::set_var("SLUICE_CFG_T_PASS", "p@ss word");
    std::env::set_var("SLUICE_CFG_T_SIZE", "4MB");
    let text = "port: $SLUICE_CFG_T_PORT\nmax_payload: $SLUICE_CFG_T_SIZE\n\
                authorization { user: me, password: $SLUICE_CFG_T_PASS }";
    let o = opts(text);
    assert_eq!(o.port, 4555);
    assert_eq!(o.max_payload, 4 << 20);
    assert_eq!(o.auth.password.as_deref(), Some("p@ss word"));

    // A type error in a value from the environment names the reference's
    // line and key.
    std::env::set_var("SLUICE_CFG_T_WORD", "abc");
    let e = error("\nport: $SLUICE_CFG_T_WORD");
    assert_eq!(
        e.to_string(),
        "test.conf:2: key \"port\": expected an integer, got string \"abc\""
    );

    let e = error("port: $SLUICE_CFG_T_SURELY_UNDEFINED");
    assert!(matches!(e, ConfigError::Parse(_)), "{e}");
    assert!(e.to_string().contains("can not be found"), "{e}");
}

#[test]
fn load_file_with_includes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("auth.conf"), "user: alice\npassword: secret\n").unwrap();
    std::fs::write(
        d.join("js.conf"),
        "jetstream {\n  store_dir: /data\n  max_mem: 1G\n}\n",
    )
    .unwrap();
    let main = d.join("main.conf");
    std::fs::write(
        &main,
        "listen: 127.0.0.1:4333\nauthorization {\n  include auth.conf\n  timeout: 1\n}\ninclude js.conf\n",
    )
    .unwrap();
    let (o, w) = load_file(&main).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.port, 4333);
    assert_eq!(o.auth.user.as_deref(), Some("alice"));
    assert_eq!(o.auth.password.as_deref(), Some("secret"));
    assert_eq!(o.auth_timeout, Duration::from_secs(1));
    assert!(o.jetstream);
    assert_eq!(o.store_dir.as_deref(), Some(Path::new("/data")));
    assert_eq!(o.max_memory_store, Some(1_000_000_000));

    // Errors in included files name that file and line.
    std::fs::write(d.join("bad.conf"), "\nmax_payload: lots\n").unwrap();
    let main2 = d.join("main2.conf");
    std::fs::write(&main2, "port: 1\ninclude bad.conf\n").unwrap();
    let e = load_file(&main2).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: key \"max_payload\": expected an integer, got string \"lots\"",
            d.join("bad.conf").display()
        )
    );

    // Unknown keys in included files are reported there.
    std::fs::write(d.join("unk.conf"), "mystery: 1\n").unwrap();
    let main3 = d.join("main3.conf");
    std::fs::write(&main3, "include unk.conf\n").unwrap();
    let (_, w) = load_file(&main3).unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].file, d.join("unk.conf"));
    assert_eq!(w[0].line, 1);
}

#[test]
fn load_file_errors_and_empty() {
    let e = load_file(Path::new("/nonexistent/sluice.conf")).unwrap_err();
    assert!(matches!(e, ConfigError::Parse(_)));
    assert!(
        e.to_string().starts_with("/nonexistent/sluice.conf: "),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.conf");
    std::fs::write(&p, "# nothing here\n").unwrap();
    let (o, w) = load_file(&p).unwrap();
    assert_eq!(o, Options::default());
    assert_eq!(w.len(), 1);
    assert!(w[0]
        .to_string()
        .ends_with("empty.conf: config has no values or is empty"));
}

#[test]
fn nats_js_harness_config() {
    let text = r#"
host: 127.0.0.1
port: -1
http: 127.0.0.1:-1
leafnodes {
  listen: 127.0.0.1:-1
}
server_tags: [id:abc]
ports_file_dir: /tmp/nats-tests
jetstream {
  max_file_store: 1048576
  max_mem_store: 1048576
  store_dir: "/tmp/js"
}
"#;
    let (o, w) = parse(text).unwrap();
    assert_eq!(o.host, "127.0.0.1");
    assert_eq!(o.port, -1);
    assert_eq!(o.http_port, Some(-1));
    assert_eq!(o.http_host.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        o.ports_file_dir.as_deref(),
        Some(Path::new("/tmp/nats-tests"))
    );
    assert!(o.jetstream);
    assert_eq!(o.max_file_store, Some(1_048_576));
    assert_eq!(o.max_memory_store, Some(1_048_576));
    assert_eq!(o.store_dir.as_deref(), Some(Path::new("/tmp/js")));
    assert_eq!(w.len(), 2, "{w:?}"); // leafnodes, server_tags
}

#[test]
fn validate_after_overrides() {
    let o = Options {
        max_payload: 100,
        max_pending: 10,
        ..Options::default()
    };
    let e = o.validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        "option \"max_payload\": max_payload (100) cannot be higher than max_pending (10)"
    );

    let mut o = Options {
        port: 70000,
        ..Options::default()
    };
    assert!(o.validate().is_err());
    o.port = -1;
    assert!(o.validate().is_ok());
    o.http_port = Some(-2);
    assert!(o.validate().is_err());

    let o = Options {
        server_name: Some("a b".into()),
        ..Options::default()
    };
    assert!(o.validate().is_err());

    let mut o = Options::default();
    o.auth.user = Some("u".into());
    o.auth.token = Some("t".into());
    assert!(matches!(o.validate(), Err(ConfigError::Validation { .. })));
}

#[test]
fn split_host_port_like_go() {
    let ok: &[(&str, &str, i32)] = &[
        ("127.0.0.1:4222", "127.0.0.1", 4222),
        ("\"[::1]:4222\"", "::1", 4222),
        ("\"[fe80::1%eth0]:1\"", "fe80::1%eth0", 1),
        ("host.example.com:0", "host.example.com", 4222),
    ];
    for (v, host, port) in ok {
        let o = opts(&format!("listen: {v}"));
        assert_eq!((o.host.as_str(), o.port), (*host, *port), "{v}");
    }
    for v in [
        "\"[::1]\"",
        "\"[::1:4222\"",
        "\"a:b:c\"",
        "\"[a]:1:2\"",
        "\"x]:1\"",
    ] {
        let e = error(&format!("listen: {v}"));
        assert!(matches!(e, ConfigError::Invalid { .. }), "{v}: {e}");
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the parser accepts, mapping never panics.
        #[test]
        fn mapping_never_panics(
            parts in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("port"), Just("listen"), Just("http"), Just("max_payload"),
                        Just("max_pending"), Just("ping_interval"), Just("ping_max"),
                        Just("write_deadline"), Just("jetstream"), Just("authorization"),
                        Just("store_dir"), Just("debug"), Just("server_name"), Just("x"),
                        Just("max_connections"), Just("timeout"), Just("sync"), Just("max_mem"),
                        Just("user"), Just("token"), Just("max_control_line"),
                    ],
                    prop_oneof![
                        Just("1"), Just("-1"), Just("0"), Just("99999999999"), Just("1.5"),
                        Just("true"), Just("\"2m\""), Just("2m"), Just("\"-1s\""), Just("abc"),
                        Just("[1, 2]"), Just("{}"), Just("{ port: 1, timeout: 1e400 }"),
                        Just("\"1G\""), Just("\"-9223372036854775808K\""), Just("always"),
                        Just("\"[::1]:4222\""), Just("\":\""), Just("\"\""), Just("1e"),
                        Just("{ store_dir: /a, max_mem: \"9999999999999T\", sync: 5 }"),
                        Just("{ user: a, token: b, timeout: 1e308 }"), Just("1.7e308"),
                        Just("9223372036854775807"), Just("-9223372036854775808"),
                    ],
                ),
                0..12,
            )
        ) {
            let text: String = parts.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
            if let Ok(map) = sluice_conf::parse_str(&text, Path::new("p.conf")) {
                let _ = options_from_map(&map);
            }
        }
    }
}
