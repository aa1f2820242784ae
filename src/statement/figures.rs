//! Which figures of a service month a restatement changed.

/// A figure of a month that a restatement may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// The month's status.
    Status,
    /// Its availability.
    Availability,
    /// The tier earned.
    Tier,
    /// The compensation owed.
    Amount,
}

impl Figure {
    /// Every figure, in the order they are listed.
    pub const ALL: [Figure; 4] = [
        Figure::Status,
        Figure::Availability,
        Figure::Tier,
        Figure::Amount,
    ];

    /// The figure's name, for a person.
    pub fn name(self) -> &'static str {
        match self {
            Figure::Status => "status",
            Figure::Availability => "availability",
            Figure::Tier => "tier",
            Figure::Amount => "amount",
        }
    }
}

/// A month's figures as a statement gave them: the response's own strings, compared as they
/// were answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// The month's first day.
    pub month_start: String,
    /// The status's name.
    pub status: String,
    /// Availability, as the response wrote it (truncated to four places).
    pub availability: String,
    /// The tier; 0 when the standard was met.
    pub tier: u32,
    /// The amount, or empty when no fee was given.
    pub amount: String,
}

impl Figures {
    /// The value of one figure, for a person.
    pub fn value(&self, figure: Figure) -> String {
        match figure {
            Figure::Status => self.status.clone(),
            Figure::Availability => format!("{}%", self.availability),
            Figure::Tier => self.tier.to_string(),
            Figure::Amount if self.amount.is_empty() => "-".into(),
            Figure::Amount => self.amount.clone(),
        }
    }
}

/// The figures that differ between `earlier` and `now`, in [`Figure::ALL`]'s order.
pub fn changed(earlier: &Figures, now: &Figures) -> Vec<Figure> {
    Figure::ALL
        .into_iter()
        .filter(|&figure| earlier.value(figure) != now.value(figure))
        .collect()
}

/// `was → now` for each changed figure, e.g. `availability 99.9500% → 99.4000%, tier 0 → 1`.
pub fn describe(earlier: &Figures, now: &Figures) -> String {
    let changes: Vec<String> = changed(earlier, now)
        .into_iter()
        .map(|figure| {
            format!(
                "{} {} → {}",
                figure.name(),
                earlier.value(figure),
                now.value(figure)
            )
        })
        .collect();
    if changes.is_empty() {
        "no figure changed".into()
    } else {
        changes.join(", ")
    }
}
