//! Alerts that reach people: a project's channels (webhook, Slack, Feishu, DingTalk, WeCom,
//! PagerDuty, email, script), the rules that send events to them, and their durable delivery
//! from the event log.
//!
//! The message ([`message`]), each channel's body ([`format`]) and the checks of a channel
//! ([`channel`]) and of where it may send ([`policy`]) are pure; the senders ([`send`]) are the
//! edge; [`deliver`] is the loop every master runs, off the engine, that matches the event log
//! against the rules and sends each delivery under a claim, retrying with backoff.

pub mod channel;
pub mod deliver;
pub mod format;
pub mod logs;
pub mod message;
pub mod policy;
pub mod send;

pub use channel::Channel;
pub use deliver::{spawn, Backoff, DeliveryConfig};
pub use logs::LogTail;
pub use message::Alert;
pub use policy::SendPolicy;
pub use send::Sender;
