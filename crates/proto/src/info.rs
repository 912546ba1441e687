//! The INFO JSON the server sends, with nats-server's field names and order.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    pub max_payload: usize,
    #[serde(skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omits_empty_fields_like_nats_server() {
        let info = ServerInfo {
            server_id: "id".into(),
            server_name: "n".into(),
            version: "2.10.0".into(),
            proto: 1,
            go: "go".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            max_payload: 1048576,
            client_id: 7,
            client_ip: "127.0.0.1".into(),
            ..Default::default()
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(
            json,
            r#"{"server_id":"id","server_name":"n","version":"2.10.0","proto":1,"go":"go","host":"0.0.0.0","port":4222,"headers":true,"max_payload":1048576,"client_id":7,"client_ip":"127.0.0.1"}"#
        );
    }
}
