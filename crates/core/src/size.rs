//! Sizes for people: the limits and the sizes that broke them, in the units people use.

/// `n` bytes as people read it: `812 bytes`, `64 KiB`, `5.2 MiB` (one decimal, dropped when
/// it is zero; binary units, as the limits are).
pub fn format_bytes(n: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    // Tenths of the unit, in integers: no float casts, no rounding surprises.
    let mut unit = 0;
    let mut scale: u128 = 1024;
    let n = u128::from(u64::try_from(n).unwrap_or(u64::MAX));
    while unit + 1 < UNITS.len() && n >= scale * 1024 {
        scale *= 1024;
        unit += 1;
    }
    let tenths = (n * 10 + scale / 2) / scale;
    match tenths % 10 {
        0 => format!("{} {}", tenths / 10, UNITS[unit]),
        d => format!("{}.{d} {}", tenths / 10, UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::format_bytes;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(format_bytes(0), "0 bytes");
        assert_eq!(format_bytes(1023), "1023 bytes");
        assert_eq!(format_bytes(1024), "1 KiB");
        assert_eq!(format_bytes(64 * 1024), "64 KiB");
        assert_eq!(format_bytes(4 << 20), "4 MiB");
        assert_eq!(format_bytes(5_452_595), "5.2 MiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(usize::MAX), "16777216 TiB");
    }
}
