//! Consumer API request/response JSON (the wire contract).
