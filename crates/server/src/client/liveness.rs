//! The server's ping/pong liveness rule for one connection, as a pure state machine.
//!
//! On each ping-interval tick: a client that sent anything since the last tick is alive
//! and is not pinged; otherwise, if another PING would exceed `ping_max` outstanding, the
//! connection is stale and closed with `-ERR 'Stale Connection'`; else a PING is sent.
//! Any PONG clears the outstanding count.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickAction {
    /// The client was active; nothing to send.
    Skip,
    SendPing,
    Stale,
}

#[derive(Debug, Clone)]
pub struct Liveness {
    ping_max: u32,
    pings_out: u32,
    active_since_tick: bool,
}

impl Liveness {
    pub fn new(ping_max: u32) -> Self {
        Liveness {
            ping_max,
            pings_out: 0,
            active_since_tick: false,
        }
    }

    /// Bytes arrived from the client.
    pub fn on_activity(&mut self) {
        self.active_since_tick = true;
    }

    pub fn on_pong(&mut self) {
        self.pings_out = 0;
    }

    pub fn on_tick(&mut self) -> TickAction {
        if std::mem::take(&mut self.active_since_tick) {
            return TickAction::Skip;
        }
        if self.pings_out + 1 > self.ping_max {
            return TickAction::Stale;
        }
        self.pings_out += 1;
        TickAction::SendPing
    }

    pub fn pings_out(&self) -> u32 {
        self.pings_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silent_client_goes_stale_after_ping_max_pings() {
        let mut l = Liveness::new(2);
        assert_eq!(l.on_tick(), TickAction::SendPing);
        assert_eq!(l.on_tick(), TickAction::SendPing);
        assert_eq!(l.on_tick(), TickAction::Stale);
    }

    #[test]
    fn pong_resets_the_count() {
        let mut l = Liveness::new(2);
        assert_eq!(l.on_tick(), TickAction::SendPing);
        assert_eq!(l.on_tick(), TickAction::SendPing);
        l.on_pong();
        assert_eq!(l.pings_out(), 0);
        assert_eq!(l.on_tick(), TickAction::SendPing);
    }

    #[test]
    fn activity_skips_one_ping_but_does_not_clear_outstanding() {
        let mut l = Liveness::new(1);
        assert_eq!(l.on_tick(), TickAction::SendPing);
        l.on_activity();
        assert_eq!(l.on_tick(), TickAction::Skip);
        assert_eq!(l.on_tick(), TickAction::Stale);
    }

    #[test]
    fn ping_max_zero_is_stale_at_first_silent_tick() {
        let mut l = Liveness::new(0);
        assert_eq!(l.on_tick(), TickAction::Stale);
    }
}
