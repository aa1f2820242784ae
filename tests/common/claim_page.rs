//! A claim report as the browser built it: the page is screenshot and its DOM read back through
//! a real headless browser, and the tests query that DOM, never the HTML text they wrote.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use scraper::{ElementRef, Html, Selector};

use super::browser;

/// Where the pages and their screenshots are kept for a person to look at:
/// `target/tmp/claim-report/`.
pub(crate) fn dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("claim-report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A page as the browser built it.
pub(crate) struct Page {
    dom: Html,
}

impl Page {
    /// Writes `html` as `name.html` under [`dir`], screenshots it as `name.png` and reads its
    /// DOM back through the browser; checks what every claim report must be.
    pub(crate) fn open(name: &str, html: &str) -> Page {
        let dir = dir();
        let page = dir.join(format!("{name}.html"));
        std::fs::write(&page, html).unwrap();

        let png = dir.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        browser::screenshot(&page, &png, 1000, 2050);
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(browser::png_size(&bytes), (1000, 2050));
        // A blank page compresses to a few kilobytes; text, tables and a heatmap do not.
        assert!(bytes.len() > 40_000, "{name}.png is {} bytes", bytes.len());

        let dom = Html::parse_document(&browser::dump_dom(&page));
        let page = Page { dom };
        page.assert_self_contained();
        page.assert_heatmaps_are_described();
        page
    }

    pub(crate) fn all(&self, selector: &str) -> Vec<ElementRef<'_>> {
        self.dom
            .select(&Selector::parse(selector).unwrap())
            .collect()
    }

    pub(crate) fn text(&self, selector: &str) -> String {
        let found = self.all(selector);
        assert_eq!(found.len(), 1, "one element matches {selector}");
        words(found[0])
    }

    /// The text of each cell of the rows `selector` matches.
    pub(crate) fn rows(&self, selector: &str) -> Vec<Vec<String>> {
        self.all(selector).into_iter().map(row_cells).collect()
    }

    /// The heatmap's cells by state, as the browser holds them.
    pub(crate) fn cells(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for cell in self.all("svg.heatmap rect.cell") {
            let classes: Vec<&str> = cell.value().classes().filter(|c| *c != "cell").collect();
            assert_eq!(classes.len(), 1, "a cell has one state: {classes:?}");
            *counts.entry(classes[0].to_string()).or_insert(0) += 1;
        }
        counts
    }

    /// The legend's count for a state, which must agree with the cells.
    pub(crate) fn legend(&self, state: &str) -> String {
        self.text(&format!("ul.legend li[data-state=\"{state}\"] .count"))
    }

    /// The rows of an interval table: each row's `datetime`s, then its other cells' text.
    pub(crate) fn intervals(&self, kind: &str) -> Vec<Vec<String>> {
        self.all(&format!("table.intervals.{kind} tbody tr"))
            .into_iter()
            .map(|row| {
                row.select(&Selector::parse("td").unwrap())
                    .map(|td| {
                        let time = td.select(&Selector::parse("time").unwrap()).next();
                        time.map_or_else(
                            || words(td),
                            |t| t.value().attr("datetime").unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .collect()
    }

    /// Nothing on the page could fetch anything, and the browser was told to refuse if it tried.
    fn assert_self_contained(&self) {
        for fetching in [
            "script", "link", "img", "iframe", "object", "embed", "image", "use",
        ] {
            assert!(self.all(fetching).is_empty(), "the page has a <{fetching}>");
        }
        let referring: Vec<_> = self.all("[src], [href]");
        assert!(referring.is_empty(), "the page refers out: {referring:?}");
        let policy = self.all("meta[http-equiv=\"Content-Security-Policy\"]");
        assert!(
            policy[0]
                .value()
                .attr("content")
                .unwrap()
                .starts_with("default-src 'none'")
        );
    }

    /// Each heatmap is one image named by its title and described by its desc.
    fn assert_heatmaps_are_described(&self) {
        for svg in self.all("svg.heatmap") {
            assert_eq!(svg.value().attr("role"), Some("img"));
            let labels = svg.value().attr("aria-labelledby").unwrap();
            for id in labels.split_whitespace() {
                let named = self.text(&format!("svg.heatmap #{id}"));
                assert!(!named.is_empty(), "#{id} is empty");
            }
        }
    }
}

/// The text of a table row's cells.
pub(crate) fn row_cells(row: ElementRef<'_>) -> Vec<String> {
    row.select(&Selector::parse("th, td").unwrap())
        .map(words)
        .collect()
}

/// An element's text with whitespace collapsed.
pub(crate) fn words(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
