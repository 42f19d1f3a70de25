//! ISO-8601 date-times and durations as the original tussi's records spell them.
//!
//! Written: `2026-11-23T21:43:40.234372Z` (UTC, `Z`, microseconds only when non-zero) and `P1DT2H3.5S` (365-day
//! years, days, then `T` hours, minutes and seconds with a trimmed fraction; `PT0S` for zero). Read: those plus the
//! variants the original accepts (`+HH:MM` offsets, a space for `T`, no zone meaning UTC, `W`/`M` date units,
//! fractions in any component, `,` as decimal mark).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: u128 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds and nanoseconds relative to the Unix epoch (seconds may be negative; nanoseconds are always forward).
fn split_time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (mut secs, mut nanos) = (-(d.as_secs() as i64), d.subsec_nanos());
            if nanos > 0 {
                secs -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            (secs, nanos)
        }
    }
}

fn join_time(secs: i64, nanos: u32) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(u64::from(nanos))
    }
}

/// `t` in whole microseconds, the precision of the record format (and of the original's Python `datetime`):
/// rounded to the nearest (ties to even, as `datetime.fromtimestamp`) or truncated (as `fromisoformat`).
pub(crate) fn to_micros(t: SystemTime, round: bool) -> SystemTime {
    let (secs, nanos) = split_time(t);
    let (micros, rest) = (nanos / 1000, nanos % 1000);
    let up = round && (rest > 500 || rest == 500 && micros % 2 == 1);
    join_time(secs, micros * 1000) + Duration::from_micros(u64::from(up))
}

/// Whether [`format_datetime`] writes `t` in a form [`parse_datetime`] reads back: years 0000 to 9999.
pub(crate) fn is_writable(t: SystemTime) -> bool {
    let (secs, _) = split_time(t);
    (0..=9999).contains(&civil_from_days(secs.div_euclid(SECS_PER_DAY)).0)
}

/// Formats `t` as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, truncated to microseconds.
pub(crate) fn format_datetime(t: SystemTime) -> String {
    let (secs, nanos) = split_time(t);
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let micros = nanos / 1000;
    let mut out = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
    out.push('Z');
    out
}

/// A cursor over ASCII text for the parsers below.
struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn fixed_digits(&mut self, n: usize) -> Option<i64> {
        let digits = self.s.get(self.pos..self.pos + n)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        Some(digits.iter().fold(0, |acc, &d| acc * 10 + i64::from(d - b'0')))
    }

    /// Digits, then optionally `.`/`,` and more digits: (integer part, fraction digits).
    fn decimal(&mut self) -> Option<(u128, &'a [u8])> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let int_digits = &self.s[start..self.pos];
        let mut frac: &'a [u8] = &[];
        if matches!(self.peek(), Some(b'.' | b',')) {
            self.pos += 1;
            let fstart = self.pos;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            frac = &self.s[fstart..self.pos];
        }
        if int_digits.is_empty() && frac.is_empty() || int_digits.len() > 30 {
            return None;
        }
        let int = int_digits.iter().fold(0u128, |acc, &d| acc * 10 + u128::from(d - b'0'));
        Some((int, frac))
    }

    fn at_end(&self) -> bool {
        self.pos == self.s.len()
    }
}

/// `int.frac` units of `unit_nanos` nanoseconds, in nanoseconds (fraction digits past 12 are ignored).
fn scaled(int: u128, frac: &[u8], unit_nanos: u128) -> Option<u128> {
    let mut total = int.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for &d in frac.iter().take(12) {
        scale /= 10;
        total = total.checked_add(u128::from(d - b'0') * scale)?;
    }
    Some(total)
}

/// Parses an ISO-8601 date-time; no zone means UTC.
pub(crate) fn parse_datetime(text: &str) -> Option<SystemTime> {
    let mut c = Cursor { s: text.as_bytes(), pos: 0 };
    let year = c.fixed_digits(4)?;
    c.eat(b'-').then_some(())?;
    let month = u32::try_from(c.fixed_digits(2)?).ok()?;
    c.eat(b'-').then_some(())?;
    let day = u32::try_from(c.fixed_digits(2)?).ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.fixed_digits(2)?;
    c.eat(b':').then_some(())?;
    let minute = c.fixed_digits(2)?;
    let mut second = 0;
    let mut nanos = 0u32;
    if c.eat(b':') {
        second = c.fixed_digits(2)?;
        if matches!(c.peek(), Some(b'.' | b',')) {
            let (_, frac) = c.decimal()?;
            nanos = u32::try_from(scaled(0, frac, NANOS_PER_SEC)?).ok()?;
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut offset = 0i64;
    if c.eat(b'Z') || c.eat(b'z') {
    } else if let Some(sign @ (b'+' | b'-')) = c.peek() {
        c.pos += 1;
        let oh = c.fixed_digits(2)?;
        c.eat(b':');
        let om = c.fixed_digits(2)?;
        offset = (oh * 3600 + om * 60) * if sign == b'-' { -1 } else { 1 };
    }
    if !c.at_end() {
        return None;
    }
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second - offset;
    Some(join_time(secs, nanos))
}

/// Formats a duration the way the original writes `timedelta`s, truncated to microseconds.
pub(crate) fn format_duration(d: Duration) -> String {
    let micros = d.as_micros();
    let total_secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let days = total_secs / 86_400;
    let (years, days) = (days / 365, days % 365);
    let sod = total_secs % 86_400;
    let (hours, minutes, seconds) = (sod / 3600, sod / 60 % 60, sod % 60);
    let mut out = String::from("P");
    if years > 0 {
        out.push_str(&format!("{years}Y"));
    }
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || frac > 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || frac > 0 {
            out.push_str(&seconds.to_string());
            if frac > 0 {
                let digits = format!("{frac:06}");
                out.push('.');
                out.push_str(digits.trim_end_matches('0'));
            }
            out.push('S');
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    out
}

/// Parses an ISO-8601 duration (`[+-]P[nY][nM][nW][nD][T[nH][nM][nS]]`, 365-day years, 30-day months). A negative
/// duration (clock skew in the writer) reads as zero.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let mut c = Cursor { s: text.as_bytes(), pos: 0 };
    let negative = c.eat(b'-');
    if !negative {
        c.eat(b'+');
    }
    c.eat(b'P').then_some(())?;
    let mut total: u128 = 0;
    let mut components = 0;
    let mut in_time = false;
    while !c.at_end() {
        if !in_time && c.eat(b'T') {
            in_time = true;
            continue;
        }
        let (int, frac) = c.decimal()?;
        let unit_secs: u128 = match (in_time, c.peek()?) {
            (false, b'Y') => 365 * 86_400,
            (false, b'M') => 30 * 86_400,
            (false, b'W') => 7 * 86_400,
            (false, b'D') => 86_400,
            (true, b'H') => 3600,
            (true, b'M') => 60,
            (true, b'S') => 1,
            _ => return None,
        };
        c.pos += 1;
        total = total.checked_add(scaled(int, frac, unit_secs * NANOS_PER_SEC)?)?;
        components += 1;
    }
    if components == 0 {
        return None;
    }
    if negative {
        return Some(Duration::ZERO);
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).ok()?;
    Some(Duration::new(secs, (total % NANOS_PER_SEC) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, micros: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, micros * 1000)
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000, -1, 0, 1, 59, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn datetimes_as_the_original_writes_them() {
        assert_eq!(format_datetime(at(1_795_470_220, 234_372)), "2026-11-23T21:43:40.234372Z");
        assert_eq!(format_datetime(at(1_795_470_220, 0)), "2026-11-23T21:43:40Z");
        assert_eq!(format_datetime(at(1_795_470_220, 5)), "2026-11-23T21:43:40.000005Z");
        assert_eq!(format_datetime(UNIX_EPOCH + Duration::new(0, 999)), "1970-01-01T00:00:00Z");
        assert_eq!(format_datetime(UNIX_EPOCH - Duration::from_secs(1)), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn datetimes_read_back() {
        assert_eq!(parse_datetime("2026-11-23T21:43:40.234372Z"), Some(at(1_795_470_220, 234_372)));
        assert_eq!(parse_datetime("2026-11-23T21:43:40Z"), Some(at(1_795_470_220, 0)));
        assert_eq!(parse_datetime("2026-11-23 21:43:40"), Some(at(1_795_470_220, 0)));
        assert_eq!(parse_datetime("2026-11-23T23:43:40.5+02:00"), Some(at(1_795_470_220, 500_000)));
        assert_eq!(parse_datetime("2026-11-23T20:43:40-0100"), Some(at(1_795_470_220, 0)));
        for bad in ["", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T21:43:40Zx"] {
            assert_eq!(parse_datetime(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_as_the_original_writes_them() {
        let cases = [
            (Duration::from_micros(362_870), "PT0.36287S"),
            (Duration::from_secs(59), "PT59S"),
            (Duration::from_micros(93_603_500_000), "P1DT2H3.5S"),
            (Duration::ZERO, "PT0S"),
            (Duration::from_nanos(999), "PT0S"),
            (Duration::from_micros(1), "PT0.000001S"),
            (Duration::from_secs(60), "PT1M"),
            (Duration::from_micros(3_723_000_040), "PT1H2M3.00004S"),
            (Duration::from_secs(400 * 86_400), "P1Y35D"),
            (Duration::from_secs(86_400), "P1D"),
            (Duration::from_secs(730 * 86_400 + 61), "P2YT1M1S"),
            (Duration::from_micros(86_400_500_000), "P1DT0.5S"),
        ];
        for (d, text) in cases {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Some(Duration::from_micros(d.as_micros() as u64)), "{text}");
        }
    }

    #[test]
    fn microseconds_and_writable_years() {
        let t = |secs: u64, nanos: u32| UNIX_EPOCH + Duration::new(secs, nanos);
        assert_eq!(to_micros(t(5, 412_500_001), true), t(5, 412_500_000));
        assert_eq!(to_micros(t(5, 412_500_501), true), t(5, 412_501_000));
        assert_eq!(to_micros(t(5, 412_500_500), true), t(5, 412_500_000));
        assert_eq!(to_micros(t(5, 412_501_500), true), t(5, 412_502_000));
        assert_eq!(to_micros(t(5, 999_999_999), true), t(6, 0));
        assert_eq!(to_micros(t(5, 999_999_999), false), t(5, 999_999_000));
        assert_eq!(to_micros(UNIX_EPOCH - Duration::new(0, 1), false), UNIX_EPOCH - Duration::from_micros(1));
        assert!(is_writable(t(253_402_300_799, 999_999_999))); // 9999-12-31T23:59:59.999999999Z
        assert!(!is_writable(t(253_402_300_800, 0)));
        assert!(is_writable(UNIX_EPOCH - Duration::from_secs(62_167_219_200))); // 0000-01-01T00:00:00Z
        assert!(!is_writable(UNIX_EPOCH - Duration::from_secs(62_167_219_201)));
    }

    #[test]
    fn durations_in_other_spellings() {
        assert_eq!(parse_duration("P1W"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("PT1.5M"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("PT1,5S"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("P1DT"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("+PT1S"), Some(Duration::from_secs(1)));
        assert_eq!(parse_duration("-PT23H59M57S"), Some(Duration::ZERO));
        for bad in ["", "P", "PT", "1.5", "pt1s", "PT1D", "P1H", "PT1S2"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
