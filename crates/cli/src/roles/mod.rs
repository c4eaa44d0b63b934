//! The cluster roles: `baton api`, `baton master`, `baton worker`. Each is one process; they
//! share a PostgreSQL metadata store and a registry (the database or etcd).

mod api;
mod master;
mod worker;

pub use api::run as api;
pub use master::run as master;
pub use worker::run as worker;

use baton_registry::{host_load, Member, Role};

/// This process as a registry member.
pub(crate) fn member(role: Role, address: &str, group: Option<String>) -> Member {
    Member {
        id: address.to_string(),
        role,
        address: address.to_string(),
        group,
        version: env!("CARGO_PKG_VERSION").to_string(),
        started_at: baton_store::now_us(),
        load: host_load(),
    }
}

/// The address others use: `advertise` if given, else what we listen on.
pub(crate) fn advertised(
    advertise: Option<String>,
    listener: &tokio::net::TcpListener,
) -> anyhow::Result<String> {
    Ok(match advertise {
        Some(a) => a,
        None => listener.local_addr()?.to_string(),
    })
}

/// The standalone process as the one member of its "cluster" (for `GET /cluster`).
pub(crate) fn member_standalone(address: &str) -> Member {
    let mut m = member(Role::Master, address, None);
    m.load.slots = 0;
    m
}
