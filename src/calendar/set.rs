//! The calendars a server counts business days in: the built-in mainland China calendar plus any
//! loaded from a directory, looked up by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::BusinessCalendar;
use super::file::{CalendarFileError, parse_calendar};

/// The built-in calendars, embedded so the binary needs no files at run time.
const BUILT_IN: [(&str, &str); 1] = [(
    "calendars/cn-mainland.toml",
    include_str!("../../calendars/cn-mainland.toml"),
)];

/// The calendar the built-in policies count business days in.
pub const CN_MAINLAND: &str = "cn-mainland";

/// Why a set of calendars could not be loaded. Loading is all or nothing.
#[derive(Debug, thiserror::Error)]
pub enum CalendarLoadError {
    #[error(transparent)]
    /// A calendar file is bad.
    File(#[from] CalendarFileError),
    #[error("{path}: {source}")]
    /// A file or directory cannot be read.
    Io {
        /// What could not be read.
        path: PathBuf,
        #[source]
        /// The error reading it (not found, permission denied, ...).
        source: std::io::Error,
    },
    #[error("{path}: calendar name '{name}' is already defined by {first}")]
    /// Two files define one name.
    DuplicateName {
        /// The calendar name both files give.
        name: String,
        /// The file defining it again.
        path: String,
        /// The file that defined it first.
        first: String,
    },
}

/// A calendar name no loaded calendar has.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("calendar '{name}' is not loaded; known calendars: {}", known.join(", "))]
pub struct UnknownCalendar {
    /// The name asked for.
    pub name: String,
    /// The names loaded, sorted.
    pub known: Vec<String>,
}

/// An immutable set of calendars looked up by name.
#[derive(Clone, Debug, Default)]
pub struct CalendarSet {
    calendars: BTreeMap<String, (BusinessCalendar, String)>,
}

impl CalendarSet {
    /// The built-in calendars.
    pub fn built_in() -> Result<Self, CalendarLoadError> {
        let mut set = CalendarSet::default();
        for (path, text) in BUILT_IN {
            set.add(path, parse_calendar(path, text)?)?;
        }
        Ok(set)
    }

    /// Adds every `*.toml` file of `dir`, in file-name order, read as a policy directory is
    /// (skipped entries are logged). Any bad file refuses the whole set.
    pub fn with_directory(mut self, dir: &Path) -> Result<Self, CalendarLoadError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CalendarLoadError::Io { path, source }
        };
        let (files, skipped) = crate::data_dir::directory_entries(dir).map_err(io(dir))?;
        for entry in skipped {
            tracing::info!(path = %entry.path.display(), reason = entry.reason, "calendar directory entry skipped");
        }
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            let shown = path.display().to_string();
            let calendar = parse_calendar(&shown, &text)?;
            self.add(&shown, calendar)?;
        }
        Ok(self)
    }

    fn add(&mut self, origin: &str, calendar: BusinessCalendar) -> Result<(), CalendarLoadError> {
        if let Some((_, first)) = self.calendars.get(calendar.name()) {
            return Err(CalendarLoadError::DuplicateName {
                name: calendar.name().to_string(),
                path: origin.to_string(),
                first: first.clone(),
            });
        }
        self.calendars
            .insert(calendar.name().to_string(), (calendar, origin.to_string()));
        Ok(())
    }

    /// The calendar with this name.
    pub fn get(&self, name: &str) -> Result<&BusinessCalendar, UnknownCalendar> {
        self.calendars
            .get(name)
            .map(|(calendar, _)| calendar)
            .ok_or_else(|| UnknownCalendar {
                name: name.to_string(),
                known: self.names().map(str::to_string).collect(),
            })
    }

    /// The names loaded, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.calendars.keys().map(String::as_str)
    }

    /// How many calendars are loaded.
    pub fn len(&self) -> usize {
        self.calendars.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.calendars.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_mainland_calendar_is_built_in() {
        let set = CalendarSet::built_in().unwrap();
        let cn = set.get(CN_MAINLAND).unwrap();
        assert_eq!(cn.years(), Some(&(2007..=2026)));
        // Qingming 2019 fell on a Friday; Sunday 2019-04-28 was worked for May Day.
        assert!(!cn.is_business_day(day(2019, 4, 5)));
        assert!(cn.is_business_day(day(2019, 4, 28)));
        assert_eq!(cn.nth_business_day(2019, 4, 5), Some(day(2019, 4, 8)));
        // National Day 2024: 1-7 off, Saturday 12 worked.
        assert_eq!(cn.nth_business_day(2024, 10, 5), Some(day(2024, 10, 12)));
    }

    #[test]
    fn directory_calendars_join_the_built_in_one_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let text = BUILT_IN[0].1.replace("\"cn-mainland\"", "\"cn-copy\"");
        std::fs::write(dir.path().join("copy.toml"), text).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a calendar").unwrap();
        let set = CalendarSet::built_in()
            .unwrap()
            .with_directory(dir.path())
            .unwrap();
        assert_eq!(set.names().collect::<Vec<_>>(), ["cn-copy", "cn-mainland"]);

        std::fs::write(dir.path().join("again.toml"), BUILT_IN[0].1).unwrap();
        let error = CalendarSet::built_in()
            .unwrap()
            .with_directory(dir.path())
            .unwrap_err();
        assert!(
            matches!(error, CalendarLoadError::DuplicateName { ref name, .. } if name == CN_MAINLAND),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let error = CalendarSet::built_in().unwrap().get("cn").unwrap_err();
        assert_eq!(
            error.to_string(),
            "calendar 'cn' is not loaded; known calendars: cn-mainland"
        );
    }
}
