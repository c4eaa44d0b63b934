//! Login attempts are rate limited per client address and per user name, so that a
//! password cannot be guessed at the speed of the network (Argon2id makes each guess slow,
//! this makes them few). Every attempt counts, successful or not: a limit on failures only
//! would need the outcome before the check.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Login attempts one client address may make in a minute (a burst of this many, then one
/// every 60 / this seconds). Behind a reverse proxy every client shares its address.
pub const LOGIN_ATTEMPTS_PER_ADDRESS: u32 = 30;
/// Login attempts one user name may receive in a minute, from all addresses together.
pub const LOGIN_ATTEMPTS_PER_USER: u32 = 10;

/// The limiters of one API server.
#[derive(Debug)]
pub(crate) struct LoginLimits {
    by_address: DefaultKeyedRateLimiter<Option<IpAddr>>,
    by_user: DefaultKeyedRateLimiter<String>,
}

/// How long a refused caller should wait before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryAfter(pub(crate) Duration);

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        LoginLimits {
            by_address: RateLimiter::keyed(per_minute(LOGIN_ATTEMPTS_PER_ADDRESS)),
            by_user: RateLimiter::keyed(per_minute(LOGIN_ATTEMPTS_PER_USER)),
        }
    }
}

impl LoginLimits {
    /// Counts one attempt from `address` (none when unknown) as `user`, or says how long to
    /// wait. The address is checked first, so one client cannot fill the table with names.
    pub(crate) fn attempt(&self, address: Option<IpAddr>, user: &str) -> Result<(), RetryAfter> {
        let now = DefaultClock::default().now();
        let wait = |not_until: governor::NotUntil<_>| RetryAfter(not_until.wait_time_from(now));
        self.by_address.check_key(&address).map_err(wait)?;
        // A name longer than any user's cannot be one: all such share one key.
        let key = if user.len() > 256 { "" } else { user };
        self.by_user.check_key(&key.to_string()).map_err(wait)
    }

    /// Forgets the keys whose limit has fully recovered (called now and then, so that the
    /// tables hold only recent callers).
    pub(crate) fn forget_idle(&self) {
        self.by_address.retain_recent();
        self.by_user.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_user.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_name_gets_its_quota_then_waits() {
        let limits = LoginLimits::default();
        let address = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..LOGIN_ATTEMPTS_PER_USER {
            limits.attempt(address, "alice").unwrap();
        }
        let RetryAfter(wait) = limits.attempt(address, "alice").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(60));
        limits
            .attempt(address, "bob")
            .expect("another name has its own quota");
    }

    #[test]
    fn an_address_gets_its_quota_whatever_the_names() {
        let limits = LoginLimits::default();
        let address = Some(IpAddr::from([10, 0, 0, 1]));
        for i in 0..LOGIN_ATTEMPTS_PER_ADDRESS {
            limits.attempt(address, &format!("user{i}")).unwrap();
        }
        assert!(limits.attempt(address, "fresh").is_err());
        limits
            .attempt(Some(IpAddr::from([10, 0, 0, 2])), "fresh")
            .expect("another address has its own quota");
    }
}
