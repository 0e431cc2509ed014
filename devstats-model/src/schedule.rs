//! Cron schedules for project syncs and affiliation runs ("splitcrons").
//!
//! DevStats runs two periodic jobs per project:
//!
//! * the **sync** job (`cronProd` / `cronTest` in the chart values), which runs every
//!   [`ScheduleParams::sync_every_hours`] hours at a minute past
//!   [`ScheduleParams::gha_offset_minutes`] (GitHub Archive files for the previous hour are
//!   published a few minutes after the hour);
//! * the **affiliations** job (`affCronProd` / `affCronTest`), which runs once per
//!   [`Period`] (every 28 days in [`Period::Monthly`] mode, every week in
//!   [`Period::Weekly`] mode).
//!
//! This module is a port of the DevStats `splitcrons` tool: it spreads the eligible
//! projects evenly over the available sync slots and over the affiliations period so
//! that no two heavy jobs start at the same time. It is pure and deterministic: the same
//! parameters and inputs always produce the same cron strings, and no input makes it
//! panic.
//!
//! # Algorithm
//!
//! With `P` the period length in hours (672 monthly, 168 weekly), `F` and `L` the hours
//! reserved for the [`Slot::First`] and [`Slot::Last`] projects, `S` the sync period in
//! hours and `G` the GHA offset in minutes:
//!
//! 1. There are `M = S * (60 - G)` sync minutes; the ordinary projects share the
//!    `H = P - F - L` hours between the two reserved windows.
//! 2. `k` is the number of *eligible ordinary* projects, and `ip` the ordinal
//!    (0-based) of an eligible ordinary project among the eligible ordinary projects, in
//!    input order. Ineligible projects and the [`Slot::First`] / [`Slot::Last`] projects do
//!    **not** advance `ip` (this reproduces all 243 production pairs of the CNCF chart).
//! 3. Ordinary projects get the affiliations minute
//!    `trunc((F + (H / k) * ip) * 60)` (computed in `f64`, as the original does) and the
//!    sync minute `floor(ip * M / k)`. The first project gets `0` / `0`; the last project
//!    gets `60 * (P - L)` / `M / 2`.
//! 4. The affiliations minute is shifted by [`ScheduleParams::offset_hours`] and wrapped
//!    into the period. [`Phase::HalfPeriod`] (used for the test deployment) additionally
//!    shifts it by half a period and the sync minute by `M / 2`.
//! 5. Sync minute `m` becomes `"{m % (60 - G) + G} {hours} * * *"` where `hours` lists
//!    every hour `h` in `0..24` with `h % S == m / (60 - G)`; affiliations minute `a`
//!    becomes `"{a % 60} {a / 60 % 24} {a / 1440 % 28 + 1} * *"` (monthly) or
//!    `"{a % 60} {a / 60 % 24} * * {a / 1440 % 7}"` (weekly).

use std::fmt::Write as _;

/// Length of the affiliations rotation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every project's affiliations job runs once a week (7 days).
    Weekly,
    /// Every project's affiliations job runs once every 28 days (cron day-of-month 1-28).
    Monthly,
}

impl Period {
    /// Number of days in the period (7 or 28).
    #[must_use]
    pub const fn days(self) -> u32 {
        match self {
            Self::Weekly => 7,
            Self::Monthly => 28,
        }
    }

    /// Number of hours in the period (168 or 672).
    #[must_use]
    pub const fn hours(self) -> u32 {
        self.days() * 24
    }

    /// Number of minutes in the period.
    #[must_use]
    pub const fn minutes(self) -> u32 {
        self.hours() * 60
    }
}

/// Parameters of the schedule rotation (defaults = what CNCF prod uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleParams {
    /// Affiliations rotation period (`MONTHLY` in splitcrons).
    pub period: Period,
    /// Sync period in hours (`SYNC_HOURS`); must be in `1..=24` and divide 24.
    pub sync_every_hours: u32,
    /// Minutes after the hour before which no sync starts (`GHA_OFFSET`); must be `< 60`.
    pub gha_offset_minutes: u32,
    /// Shift of the affiliations period start, in hours (`OFFSET_HOURS`); may be negative.
    pub offset_hours: i32,
    /// Hours reserved at the start of the affiliations period for the [`Slot::First`]
    /// project, i.e. kubernetes (`KUBERNETES_HOURS`).
    pub first_reserved_hours: u32,
    /// Hours reserved at the end of the affiliations period for the [`Slot::Last`]
    /// project, i.e. "All CNCF" (`ALL_HOURS`).
    pub last_reserved_hours: u32,
}

impl ScheduleParams {
    /// The monthly parameters used by CNCF prod: 28-day period, sync every 6 hours at
    /// 4 minutes past the hour or later, period start shifted by -4 hours, 36 hours
    /// reserved for the first and 36 for the last project. Same as [`Default::default`].
    #[must_use]
    pub const fn monthly() -> Self {
        Self {
            period: Period::Monthly,
            sync_every_hours: 6,
            gha_offset_minutes: 4,
            offset_hours: -4,
            first_reserved_hours: 36,
            last_reserved_hours: 36,
        }
    }

    /// The splitcrons weekly defaults: like [`ScheduleParams::monthly`] but with a 7-day
    /// period, 24 hours reserved for the first and 20 for the last project.
    #[must_use]
    pub const fn weekly() -> Self {
        Self {
            period: Period::Weekly,
            sync_every_hours: 6,
            gha_offset_minutes: 4,
            offset_hours: -4,
            first_reserved_hours: 24,
            last_reserved_hours: 20,
        }
    }

    /// Checks that the parameters describe a usable rotation.
    ///
    /// # Errors
    ///
    /// * [`ScheduleError::InvalidSyncHours`] if `sync_every_hours` is 0 or does not divide 24;
    /// * [`ScheduleError::InvalidGhaOffset`] if `gha_offset_minutes >= 60`;
    /// * [`ScheduleError::ReservedHoursTooLarge`] if the reserved hours leave no hour of
    ///   the period for the ordinary projects.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if self.sync_every_hours == 0 || 24 % self.sync_every_hours != 0 {
            return Err(ScheduleError::InvalidSyncHours {
                hours: self.sync_every_hours,
            });
        }
        if self.gha_offset_minutes >= 60 {
            return Err(ScheduleError::InvalidGhaOffset {
                minutes: self.gha_offset_minutes,
            });
        }
        let period_hours = self.period.hours();
        let reserved = u64::from(self.first_reserved_hours) + u64::from(self.last_reserved_hours);
        if reserved >= u64::from(period_hours) {
            return Err(ScheduleError::ReservedHoursTooLarge {
                first: self.first_reserved_hours,
                last: self.last_reserved_hours,
                period_hours,
            });
        }
        Ok(())
    }
}

impl Default for ScheduleParams {
    fn default() -> Self {
        Self::monthly()
    }
}

/// Which reserved slot (if any) a project takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Spread evenly between the reserved windows (all projects but the two below).
    Ordinary,
    /// Reserved start of the period and sync slot 0 (kubernetes, database `gha`).
    First,
    /// Reserved end of the period and the middle sync slot ("All CNCF", database `allprj`).
    Last,
}

/// Whether to compute the primary (prod) rotation or the one shifted by half a period (test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The rotation itself (prod: `cronProd`, `affCronProd`).
    Primary,
    /// The rotation shifted by half a period and half the sync slots (test: `cronTest`,
    /// `affCronTest`), so that prod and test never run the same project's jobs together.
    HalfPeriod,
}

/// One project's input, given in rotation order. Only eligible projects get a schedule.
#[derive(Debug, Clone, Copy)]
pub struct SlotInput {
    /// Reserved slot taken by the project, if any.
    pub slot: Slot,
    /// Whether the project is scheduled at all (in prod: not `suspendCronProd` and deployed
    /// to at least one of the prod domains). Ineligible projects do not take a slot.
    pub eligible: bool,
}

/// The two computed cron strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSchedule {
    /// Five-field cron expression of the sync job, e.g. `"13 1,7,13,19 * * *"`.
    pub sync: String,
    /// Five-field cron expression of the affiliations job, e.g. `"0 20 28 * *"`.
    pub affiliations: String,
}

/// Invalid [`ScheduleParams`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// `sync_every_hours` is 0 or does not divide 24.
    #[error("sync period of {hours} hour(s) is invalid: it must be between 1 and 24 and divide 24")]
    InvalidSyncHours {
        /// The rejected value.
        hours: u32,
    },
    /// `gha_offset_minutes` is not below 60.
    #[error("GHA offset of {minutes} minute(s) is invalid: it must be below 60")]
    InvalidGhaOffset {
        /// The rejected value.
        minutes: u32,
    },
    /// The reserved hours cover the whole period.
    #[error(
        "{first} hour(s) reserved for the first project plus {last} for the last one leave \
         no time for the other projects in a period of {period_hours} hours"
    )]
    ReservedHoursTooLarge {
        /// Hours reserved at the start of the period.
        first: u32,
        /// Hours reserved at the end of the period.
        last: u32,
        /// Length of the period in hours.
        period_hours: u32,
    },
}

/// Computes the sync and affiliations cron strings of every input.
///
/// Returns one entry per input, in the same order: `None` for ineligible inputs, the
/// schedule otherwise. The result only depends on the arguments. Having no (or a single)
/// eligible ordinary project is fine.
///
/// # Errors
///
/// Returns the error of [`ScheduleParams::validate`] if the parameters are invalid.
pub fn compute(
    params: &ScheduleParams,
    inputs: &[SlotInput],
    phase: Phase,
) -> Result<Vec<Option<ProjectSchedule>>, ScheduleError> {
    params.validate()?;

    // All values below are small after validation; u64/i64 leave ample headroom.
    let period_hours = u64::from(params.period.hours());
    let period_minutes = period_hours * 60;
    let first = u64::from(params.first_reserved_hours);
    let last = u64::from(params.last_reserved_hours);
    let slot_minutes = u64::from(60 - params.gha_offset_minutes);
    let sync_minutes = u64::from(params.sync_every_hours) * slot_minutes;
    let ordinary_hours = period_hours.saturating_sub(first).saturating_sub(last);

    let kp = inputs
        .iter()
        .filter(|input| input.eligible && input.slot == Slot::Ordinary)
        .count() as u64;

    let mut ip: u64 = 0;
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        if !input.eligible {
            out.push(None);
            continue;
        }
        let (minute_a, minute_s) = match input.slot {
            Slot::First => (0, 0),
            Slot::Last => (period_hours.saturating_sub(last) * 60, sync_minutes / 2),
            Slot::Ordinary => {
                // kp >= 1 here because this very input is counted in it.
                let kp_nonzero = kp.max(1);
                let interval = ordinary_hours as f64 / kp_nonzero as f64;
                // Float arithmetic in the same order as splitcrons; `as` truncates (and
                // saturates, never panics) exactly like the original int() conversion.
                let minute_a = ((first as f64 + interval * ip as f64) * 60.0) as u64;
                // ip < kp, so the quotient is below sync_minutes; u128 rules out overflow.
                let minute_s = u128::from(ip) * u128::from(sync_minutes) / u128::from(kp_nonzero);
                let minute_s = u64::try_from(minute_s).unwrap_or(0);
                ip += 1;
                (minute_a, minute_s)
            }
        };

        let mut minute_a = i64::try_from(minute_a)
            .unwrap_or(i64::MAX)
            .saturating_add(i64::from(params.offset_hours) * 60);
        let mut minute_s = minute_s;
        if phase == Phase::HalfPeriod {
            minute_a = minute_a.saturating_add(i64::try_from(period_minutes / 2).unwrap_or(0));
            minute_s += sync_minutes / 2;
        }
        let period_minutes_i = i64::try_from(period_minutes).unwrap_or(i64::MAX);
        let minute_a = u64::try_from(minute_a.rem_euclid(period_minutes_i)).unwrap_or(0);
        let minute_s = minute_s % sync_minutes.max(1);

        out.push(Some(ProjectSchedule {
            sync: sync_cron(params, minute_s, slot_minutes),
            affiliations: affiliations_cron(params.period, minute_a),
        }));
    }
    Ok(out)
}

/// Formats sync minute `minute_s` (in `0..sync_minutes`) as a cron expression.
fn sync_cron(params: &ScheduleParams, minute_s: u64, slot_minutes: u64) -> String {
    let slot_minutes = slot_minutes.max(1);
    let every = u64::from(params.sync_every_hours).max(1);
    let slot = minute_s / slot_minutes;
    let minute = minute_s % slot_minutes + u64::from(params.gha_offset_minutes);
    let mut cron = format!("{minute} ");
    let mut first = true;
    for hour in (0..24u64).filter(|hour| hour % every == slot) {
        if !first {
            cron.push(',');
        }
        first = false;
        // Writing into a String cannot fail.
        let _ = write!(cron, "{hour}");
    }
    cron.push_str(" * * *");
    cron
}

/// Formats affiliations minute `minute_a` (in `0..period minutes`) as a cron expression.
fn affiliations_cron(period: Period, minute_a: u64) -> String {
    let minute = minute_a % 60;
    let hour = (minute_a / 60) % 24;
    let day = minute_a / 1440;
    match period {
        Period::Monthly => format!("{minute} {hour} {} * *", day % 28 + 1),
        Period::Weekly => format!("{minute} {hour} * * {}", day % 7),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ordinary(n: usize) -> impl Iterator<Item = SlotInput> {
        std::iter::repeat_n(
            SlotInput {
                slot: Slot::Ordinary,
                eligible: true,
            },
            n,
        )
    }

    const FIRST: SlotInput = SlotInput {
        slot: Slot::First,
        eligible: true,
    };
    const LAST: SlotInput = SlotInput {
        slot: Slot::Last,
        eligible: true,
    };

    /// kubernetes first, 241 ordinary projects, all last: the shape of CNCF prod.
    fn prod_like() -> Vec<SlotInput> {
        let mut inputs = vec![FIRST];
        inputs.extend(ordinary(241));
        inputs.push(LAST);
        inputs
    }

    fn schedule(sync: &str, affiliations: &str) -> Option<ProjectSchedule> {
        Some(ProjectSchedule {
            sync: sync.to_owned(),
            affiliations: affiliations.to_owned(),
        })
    }

    #[test]
    fn kubernetes_and_all_primary() -> Result<(), ScheduleError> {
        let out = compute(&ScheduleParams::default(), &prod_like(), Phase::Primary)?;
        assert_eq!(out.len(), 243);
        assert_eq!(out[0], schedule("4 0,6,12,18 * * *", "0 20 28 * *"));
        assert_eq!(out[242], schedule("4 3,9,15,21 * * *", "0 8 27 * *"));
        // The first ordinary project (prometheus in CNCF prod) starts right after the
        // reserved window, on sync slot 0.
        assert_eq!(out[1], schedule("4 0,6,12,18 * * *", "0 8 2 * *"));
        Ok(())
    }

    #[test]
    fn kubernetes_and_all_half_period() -> Result<(), ScheduleError> {
        let out = compute(&ScheduleParams::default(), &prod_like(), Phase::HalfPeriod)?;
        // Shifted by 14 days and by half of the sync slots (3 hours).
        assert_eq!(out[0], schedule("4 3,9,15,21 * * *", "0 20 14 * *"));
        assert_eq!(out[242], schedule("4 0,6,12,18 * * *", "0 8 13 * *"));
        assert_eq!(out[1], schedule("4 3,9,15,21 * * *", "0 8 16 * *"));
        Ok(())
    }

    #[test]
    fn half_period_shifts_every_project() -> Result<(), ScheduleError> {
        let params = ScheduleParams::default();
        let primary = compute(&params, &prod_like(), Phase::Primary)?;
        let half = compute(&params, &prod_like(), Phase::HalfPeriod)?;
        for (p, h) in primary.iter().zip(&half) {
            let (Some(p), Some(h)) = (p, h) else {
                panic!("every input is eligible");
            };
            let pa = parse(&p.affiliations);
            let ha = parse(&h.affiliations);
            // Same time of day, 14 days later (mod 28).
            assert_eq!(pa[..2], ha[..2]);
            assert_eq!((pa[2] - 1 + 14) % 28 + 1, ha[2]);
            let ps = parse_sync(&p.sync);
            let hs = parse_sync(&h.sync);
            assert_eq!(ps.0, hs.0);
            assert_eq!((ps.1[0] + 3) % 6, hs.1[0]);
        }
        Ok(())
    }

    #[test]
    fn weekly_format() -> Result<(), ScheduleError> {
        let params = ScheduleParams::weekly();
        let mut inputs = vec![FIRST];
        inputs.extend(ordinary(10));
        inputs.push(LAST);
        let out = compute(&params, &inputs, Phase::Primary)?;
        // First: minute 0 - 4h wraps to Saturday 20:00.
        assert_eq!(out[0], schedule("4 0,6,12,18 * * *", "0 20 * * 6"));
        // Last: (168 - 20) h - 4 h = 144 h = day 6, 00:00.
        assert_eq!(out[11], schedule("4 3,9,15,21 * * *", "0 0 * * 6"));
        // First ordinary: 24 h - 4 h = day 0, 20:00.
        assert_eq!(out[1], schedule("4 0,6,12,18 * * *", "0 20 * * 0"));
        // Second ordinary: 24 + 12.4 h - 4 h = 32.4 h = day 1, 08:24; sync 336/10 = 33.
        assert_eq!(out[2], schedule("37 0,6,12,18 * * *", "24 8 * * 1"));
        let half = compute(&params, &inputs, Phase::HalfPeriod)?;
        // Half a week later: +84 h.
        assert_eq!(half[0], schedule("4 3,9,15,21 * * *", "0 8 * * 3"));
        Ok(())
    }

    #[test]
    fn ineligible_and_reserved_do_not_take_ordinal() -> Result<(), ScheduleError> {
        let skipped = SlotInput {
            slot: Slot::Ordinary,
            eligible: false,
        };
        let with_gaps = [
            FIRST,
            skipped,
            SlotInput {
                eligible: true,
                ..skipped
            },
            LAST,
            skipped,
        ];
        let out = compute(&ScheduleParams::default(), &with_gaps, Phase::Primary)?;
        assert_eq!(out[1], None);
        assert_eq!(out[4], None);
        assert_eq!(out[2], schedule("4 0,6,12,18 * * *", "0 8 2 * *"));
        Ok(())
    }

    #[test]
    fn validation_errors() {
        let ok = ScheduleParams::default();
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ScheduleParams::weekly().validate(), Ok(()));
        for hours in [1, 2, 3, 4, 6, 8, 12, 24] {
            let params = ScheduleParams {
                sync_every_hours: hours,
                ..ok
            };
            assert_eq!(params.validate(), Ok(()), "{hours}");
        }
        for hours in [0, 5, 7, 9, 25, 48, u32::MAX] {
            let params = ScheduleParams {
                sync_every_hours: hours,
                ..ok
            };
            assert_eq!(params.validate(), Err(ScheduleError::InvalidSyncHours { hours }));
            assert_eq!(
                compute(&params, &prod_like(), Phase::Primary),
                Err(ScheduleError::InvalidSyncHours { hours })
            );
        }
        for minutes in [60, 61, u32::MAX] {
            let params = ScheduleParams {
                gha_offset_minutes: minutes,
                ..ok
            };
            assert_eq!(
                params.validate(),
                Err(ScheduleError::InvalidGhaOffset { minutes })
            );
        }
        let params = ScheduleParams {
            first_reserved_hours: 336,
            last_reserved_hours: 336,
            ..ok
        };
        assert_eq!(
            params.validate(),
            Err(ScheduleError::ReservedHoursTooLarge {
                first: 336,
                last: 336,
                period_hours: 672
            })
        );
        let params = ScheduleParams {
            first_reserved_hours: u32::MAX,
            last_reserved_hours: u32::MAX,
            ..ScheduleParams::weekly()
        };
        assert!(matches!(
            params.validate(),
            Err(ScheduleError::ReservedHoursTooLarge {
                period_hours: 168,
                ..
            })
        ));
        let params = ScheduleParams {
            first_reserved_hours: 100,
            last_reserved_hours: 67,
            ..ScheduleParams::weekly()
        };
        assert_eq!(params.validate(), Ok(()));
        // Error messages are human readable.
        assert!(
            ScheduleError::InvalidSyncHours { hours: 5 }
                .to_string()
                .contains("divide 24")
        );
    }

    #[test]
    fn zero_or_one_eligible_project() -> Result<(), ScheduleError> {
        let params = ScheduleParams::default();
        assert_eq!(compute(&params, &[], Phase::Primary)?, vec![]);
        let ineligible = SlotInput {
            slot: Slot::Ordinary,
            eligible: false,
        };
        assert_eq!(compute(&params, &[ineligible], Phase::Primary)?, vec![None]);
        let out = compute(&params, &[FIRST, LAST], Phase::HalfPeriod)?;
        assert!(out.iter().all(Option::is_some));
        let one = compute(
            &params,
            &[SlotInput {
                eligible: true,
                ..ineligible
            }],
            Phase::Primary,
        )?;
        assert_eq!(one, vec![schedule("4 0,6,12,18 * * *", "0 8 2 * *")]);
        Ok(())
    }

    /// Parses a five-field cron with single numbers in the first three fields
    /// (affiliations, monthly) or in the first two and the last (weekly).
    fn parse(cron: &str) -> Vec<u64> {
        let fields: Vec<&str> = cron.split(' ').collect();
        assert_eq!(fields.len(), 5, "{cron}");
        fields
            .iter()
            .filter(|f| **f != "*")
            .map(|f| f.parse::<u64>().unwrap_or(u64::MAX))
            .collect()
    }

    /// Parses a sync cron: (minute, hours).
    fn parse_sync(cron: &str) -> (u64, Vec<u64>) {
        let fields: Vec<&str> = cron.split(' ').collect();
        assert_eq!(fields.len(), 5, "{cron}");
        assert_eq!(fields[2..], ["*", "*", "*"], "{cron}");
        let minute = fields[0].parse::<u64>().unwrap_or(u64::MAX);
        let hours = fields[1]
            .split(',')
            .map(|h| h.parse::<u64>().unwrap_or(u64::MAX))
            .collect();
        (minute, hours)
    }

    fn arb_params() -> impl Strategy<Value = ScheduleParams> {
        (
            prop_oneof![Just(Period::Weekly), Just(Period::Monthly)],
            // Mostly valid parameters (so that the output checks run), sometimes not.
            prop_oneof![
                6 => proptest::sample::select(vec![1u32, 2, 3, 4, 6, 8, 12, 24]),
                1 => 0u32..=30,
                1 => any::<u32>(),
            ],
            prop_oneof![6 => 0u32..60, 1 => 0u32..=70, 1 => any::<u32>()],
            prop_oneof![-1000i32..=1000, any::<i32>()],
            prop_oneof![6 => 0u32..=90, 1 => 0u32..=700, 1 => any::<u32>()],
            prop_oneof![6 => 0u32..=90, 1 => 0u32..=700, 1 => any::<u32>()],
        )
            .prop_map(|(period, sync, gha, offset, first, last)| ScheduleParams {
                period,
                sync_every_hours: sync,
                gha_offset_minutes: gha,
                offset_hours: offset,
                first_reserved_hours: first,
                last_reserved_hours: last,
            })
    }

    fn arb_inputs() -> impl Strategy<Value = Vec<SlotInput>> {
        proptest::collection::vec(
            (
                prop_oneof![
                    8 => Just(Slot::Ordinary),
                    1 => Just(Slot::First),
                    1 => Just(Slot::Last),
                ],
                any::<bool>(),
            )
                .prop_map(|(slot, eligible)| SlotInput { slot, eligible }),
            0..400,
        )
    }

    proptest! {
        #[test]
        fn compute_never_panics_and_outputs_are_valid(
            params in arb_params(),
            inputs in arb_inputs(),
            half in any::<bool>(),
        ) {
            let phase = if half { Phase::HalfPeriod } else { Phase::Primary };
            let result = compute(&params, &inputs, phase);
            prop_assert_eq!(result.is_ok(), params.validate().is_ok());
            let Ok(out) = result else { return Ok(()); };
            prop_assert_eq!(out.len(), inputs.len());
            for (input, schedule) in inputs.iter().zip(&out) {
                prop_assert_eq!(input.eligible, schedule.is_some());
                let Some(schedule) = schedule else { continue };

                let (minute, hours) = parse_sync(&schedule.sync);
                prop_assert!(minute >= u64::from(params.gha_offset_minutes) && minute < 60);
                prop_assert_eq!(hours.len() as u64, 24 / u64::from(params.sync_every_hours));
                prop_assert!(hours.iter().all(|h| *h < 24));
                prop_assert!(hours.windows(2).all(|w| w[0] < w[1]));

                let fields: Vec<&str> = schedule.affiliations.split(' ').collect();
                prop_assert_eq!(fields.len(), 5);
                let num = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
                prop_assert!(num(fields[0]) < 60);
                prop_assert!(num(fields[1]) < 24);
                prop_assert_eq!(fields[3], "*");
                match params.period {
                    Period::Monthly => {
                        prop_assert!((1..=28).contains(&num(fields[2])));
                        prop_assert_eq!(fields[4], "*");
                    }
                    Period::Weekly => {
                        prop_assert_eq!(fields[2], "*");
                        prop_assert!(num(fields[4]) < 7);
                    }
                }
            }
            // Deterministic.
            prop_assert_eq!(compute(&params, &inputs, phase), Ok(out));
        }
    }
}
