//! Time as an input.
//!
//! The core never reads a clock. Drivers pass an [`Instant`]: a monotonic number of
//! milliseconds since an origin the driver chooses (process start, a test's virtual zero).
//! Wall-clock time (needed for SAS token expiry) is passed separately as Unix seconds.

use std::time::Duration;

/// A point on the driver's monotonic clock, in milliseconds since the driver's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(pub u64);

impl Instant {
    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(d.as_millis().min(u64::MAX as u128) as u64),
        )
    }
}

impl std::ops::Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// Wall-clock time as seconds since the Unix epoch; used only for token expiry (`se`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_sub_saturate() {
        let a = Instant(1_000);
        assert_eq!(a + Duration::from_secs(2), Instant(3_000));
        assert_eq!(Instant(500) - a, Duration::ZERO);
        assert_eq!(a - Instant(400), Duration::from_millis(600));
    }
}
