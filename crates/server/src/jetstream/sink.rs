//! The router side of the engine thread: an internal subscriber that queues copies of
//! the messages it is given.

use std::sync::mpsc::{SyncSender, TrySendError};

use crate::router::{InternalSink, Message};

/// One message for the engine thread.
#[derive(Debug)]
pub enum Input {
    Message {
        subject: String,
        reply: Option<String>,
        headers: Option<Vec<u8>>,
        payload: Vec<u8>,
        /// When the router handed it over (publish-to-ack latency).
        received: std::time::Instant,
    },
    /// Monitoring asks for a snapshot of the engine.
    Report(tokio::sync::oneshot::Sender<sluice_jetstream::engine::EngineReport>),
    Stop,
}

#[derive(Debug)]
pub struct EngineSink {
    pub tx: SyncSender<Input>,
}

impl InternalSink for EngineSink {
    fn deliver(&self, msg: &Message<'_>) -> bool {
        let input = Input::Message {
            subject: msg.subject.to_owned(),
            reply: msg
                .reply
                .and_then(|r| std::str::from_utf8(r).ok())
                .map(str::to_owned),
            headers: msg.headers.map(<[u8]>::to_vec),
            payload: msg.payload.to_vec(),
            received: std::time::Instant::now(),
        };
        match self.tx.try_send(input) {
            Ok(()) => true,
            // A full queue is back-pressure: the message is not taken, so the publisher
            // gets no PubAck and retries, and memory stays bounded.
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        }
    }
}
