//! The crate's module graph, read from `src/` as rustc would resolve its paths, so that the
//! architecture the README draws cannot drift:
//!
//! - no two sibling modules depend on each other, directly or around a loop (a cycle means a type
//!   sits in the wrong file, and neither module can be read or changed alone);
//! - the gRPC layer (`api`) never imports the server (`server`): the command line runs the same
//!   handlers in process, without the serving machinery;
//! - the SLA domain (`policy`, `engine`, `classify`, `calendar`, and `statement`, which signs and
//!   chains) never imports the layers around it (`api`, `server`, `cli`, `config`, `input`, `render`, `telemetry`).
//!
//! A dependency is any path that names another module: `use` trees, paths in code and types, and
//! `crate::`/`super::` paths inside macro calls. Names re-exported with `pub use` (and imported
//! with `use`) are followed to the module that defines them, so a re-export cannot hide an edge.
//! Doc comments are not code and do not count.
// A failed unwrap in a test is a failed assertion, with a backtrace.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module's path from the crate root: `["engine", "term"]`; the root is empty.
type ModPath = Vec<String>;

const DOMAIN: [&str; 5] = ["policy", "engine", "classify", "calendar", "statement"];
const AROUND_THE_DOMAIN: [&str; 7] = [
    "api",
    "server",
    "cli",
    "config",
    "input",
    "render",
    "telemetry",
];

/// One reference from code in `from` (a module, or an inline module such as `tests`) to the
/// absolute path `to`, written at `file`.
#[derive(Clone, Debug)]
struct Reference {
    from: ModPath,
    to: ModPath,
    file: String,
}

/// What the source says: every module, every name a `use` binds, and every reference.
#[derive(Debug, Default)]
struct Crate {
    modules: BTreeSet<ModPath>,
    /// `(module, name)` → the absolute path the name stands for there.
    aliases: BTreeMap<(ModPath, String), ModPath>,
    /// References as written, resolved against their module but not yet through aliases.
    references: Vec<Reference>,
}

/// Walks one file, inline modules included.
struct FileVisitor<'a> {
    krate: &'a mut Crate,
    file: String,
    scope: ModPath,
}

impl FileVisitor<'_> {
    /// `segments` as an absolute path, when it starts at the crate, a parent or the module
    /// itself, or names a child module; `None` for external crates and local items.
    fn absolute(&self, segments: &[String]) -> Option<ModPath> {
        let mut base = self.scope.clone();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            Some(first) => {
                let mut child = base.clone();
                child.push(first.to_string());
                let bound = self
                    .krate
                    .aliases
                    .contains_key(&(base.clone(), first.to_string()));
                if !self.krate.modules.contains(&child) && !bound {
                    return None;
                }
            }
            None => return None,
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn refer(&mut self, segments: &[String]) {
        if let Some(to) = self.absolute(segments) {
            self.krate.references.push(Reference {
                from: self.scope.clone(),
                to,
                file: self.file.clone(),
            });
        }
    }

    /// Each leaf of a `use` tree: a reference, and a name bound in this module.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                let name = name.ident.to_string();
                let (bound, full) = if name == "self" {
                    (prefix.last().cloned(), prefix.clone())
                } else {
                    let mut full = prefix.clone();
                    full.push(name.clone());
                    (Some(name), full)
                };
                self.bind(bound, &full);
            }
            syn::UseTree::Rename(rename) => {
                let mut full = prefix.clone();
                full.push(rename.ident.to_string());
                self.bind(Some(rename.rename.to_string()), &full);
            }
            syn::UseTree::Glob(_) => self.refer(prefix),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    fn bind(&mut self, name: Option<String>, full: &[String]) {
        let Some(target) = self.absolute(full) else {
            return;
        };
        if let Some(name) = name.filter(|name| name != "_") {
            self.krate
                .aliases
                .insert((self.scope.clone(), name), target.clone());
        }
        self.krate.references.push(Reference {
            from: self.scope.clone(),
            to: target,
            file: self.file.clone(),
        });
    }

    /// `crate::a::b` and `super::a` written inside a macro call, which syn leaves as tokens.
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Ident(ident) if ident == "crate" || ident == "super" => {
                    let mut segments = vec![ident.to_string()];
                    let mut j = i + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) =
                        (trees.get(j), trees.get(j + 1))
                    {
                        let Some(TokenTree::Ident(next)) = trees.get(j + 2) else {
                            break;
                        };
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(next.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.refer(&segments);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for FileVisitor<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if let Some((_, items)) = &item.content {
            self.scope.push(item.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.scope.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut prefix = Vec::new();
        self.use_tree(&mut prefix, &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect();
        self.refer(&segments);
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// Every inline module of a file (`mod tests { ... }`, `pub mod pb { ... }`).
fn inline_modules(scope: &ModPath, items: &[syn::Item], into: &mut BTreeSet<ModPath>) {
    for item in items {
        if let syn::Item::Mod(module) = item
            && let Some((_, items)) = &module.content
        {
            let mut path = scope.clone();
            path.push(module.ident.to_string());
            inline_modules(&path, items, into);
            into.insert(path);
        }
    }
}

impl Crate {
    /// Reads `files`: each module's path and its source.
    fn read(files: &[(ModPath, String, String)]) -> Crate {
        let mut krate = Crate::default();
        let parsed: Vec<(ModPath, String, syn::File)> = files
            .iter()
            .map(|(module, name, text)| {
                let file = syn::parse_file(text).unwrap_or_else(|e| panic!("{name}: {e}"));
                (module.clone(), name.clone(), file)
            })
            .collect();
        for (module, _, file) in &parsed {
            krate.modules.insert(module.clone());
            inline_modules(module, &file.items, &mut krate.modules);
        }
        // Twice: a `use` of a name another file binds resolves once that file was read.
        for _ in 0..2 {
            krate.references.clear();
            for (module, name, file) in &parsed {
                let mut visitor = FileVisitor {
                    krate: &mut krate,
                    file: name.clone(),
                    scope: module.clone(),
                };
                visitor.visit_file(file);
            }
        }
        krate
    }

    /// `path` with every bound name on it replaced by what it stands for, until it names the
    /// module that defines the item; then cut to that module.
    fn resolve(&self, path: &ModPath) -> ModPath {
        let mut path = path.clone();
        for _ in 0..16 {
            let bound = (1..=path.len()).rev().find_map(|end| {
                let key = (path[..end - 1].to_vec(), path[end - 1].clone());
                let target = self.aliases.get(&key)?;
                (target != &path[..end]).then(|| (end, target.clone()))
            });
            match bound {
                Some((end, target)) => {
                    path = target
                        .into_iter()
                        .chain(path[end..].iter().cloned())
                        .collect()
                }
                None => break,
            }
        }
        // A path's last segments name items; what it depends on is its deepest module.
        while !path.is_empty() && !self.modules.contains(&path) {
            path.pop();
        }
        path
    }

    /// Every dependency: the module the code is in, the module it names, and where.
    fn dependencies(&self) -> Vec<Reference> {
        self.references
            .iter()
            .map(|reference| Reference {
                to: self.resolve(&reference.to),
                ..reference.clone()
            })
            .collect()
    }
}

/// Between which siblings a dependency runs: the children of the deepest module both sit in,
/// or `None` when one contains the other.
fn siblings(from: &ModPath, to: &ModPath) -> Option<(ModPath, ModPath)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    (common < from.len() && common < to.len())
        .then(|| (from[..=common].to_vec(), to[..=common].to_vec()))
}

fn shown(path: &[String]) -> String {
    if path.is_empty() {
        "crate".into()
    } else {
        path.join("::")
    }
}

/// Every rule the graph breaks, described with the file and path that break it, each with the
/// modules of the cycle it is (none for a layer break).
fn violations(krate: &Crate) -> Vec<(Vec<String>, String)> {
    let dependencies = krate.dependencies();
    let mut problems: BTreeSet<(Vec<String>, String)> = BTreeSet::new();
    for dependency in &dependencies {
        let (from, to) = (dependency.from.first(), dependency.to.first());
        let layer = |names: &[&str], name: Option<&String>| {
            name.is_some_and(|name| names.contains(&name.as_str()))
        };
        let broken = (layer(&["api"], from) && layer(&["server"], to))
            || (layer(&DOMAIN, from) && layer(&AROUND_THE_DOMAIN, to));
        if broken {
            let problem = format!(
                "{} imports {} ({}): {} must not depend on {}",
                shown(&dependency.from),
                shown(&dependency.to),
                dependency.file,
                from.unwrap(),
                to.unwrap()
            );
            problems.insert((Vec::new(), problem));
        }
    }
    // Sibling edges, with one place each is written.
    let mut edges: BTreeMap<(ModPath, ModPath), &Reference> = BTreeMap::new();
    for dependency in &dependencies {
        if let Some(edge) = siblings(&dependency.from, &dependency.to) {
            edges.entry(edge).or_insert(dependency);
        }
    }
    let next = |from: &ModPath| -> Vec<ModPath> {
        edges
            .keys()
            .filter(|(a, _)| a == from)
            .map(|(_, b)| b.clone())
            .collect()
    };
    for (from, to) in edges.keys() {
        // A loop through this edge: a way back from `to` to `from` among the same siblings.
        let mut trail: BTreeMap<ModPath, ModPath> = BTreeMap::new();
        let mut queue = vec![to.clone()];
        while let Some(at) = queue.pop() {
            for step in next(&at) {
                if !trail.contains_key(&step) && &step != to {
                    trail.insert(step.clone(), at.clone());
                    queue.push(step);
                }
            }
        }
        if !trail.contains_key(from) {
            continue;
        }
        let mut cycle = vec![from.clone()];
        let mut at = from.clone();
        while &at != to {
            at = trail[&at].clone();
            cycle.push(at.clone());
        }
        cycle.reverse();
        cycle.insert(0, from.clone());
        // Name each loop once, from its smallest module.
        let start = (0..cycle.len() - 1).min_by_key(|&i| &cycle[i]).unwrap();
        if start != 0 {
            continue;
        }
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|pair| {
                let reference = edges[&(pair[0].clone(), pair[1].clone())];
                format!(
                    "{} -> {} ({}: {})",
                    shown(&pair[0]),
                    shown(&pair[1]),
                    reference.file,
                    shown(&reference.to)
                )
            })
            .collect();
        let modules = cycle[..cycle.len() - 1].iter().map(|m| shown(m)).collect();
        let problem = format!("sibling modules in a cycle: {}", steps.join(", "));
        problems.insert((modules, problem));
    }
    problems.into_iter().collect()
}

/// A source file's module path: `src/lib.rs` is the root, `src/a/mod.rs` and `src/a.rs` are `a`.
fn module_of(relative: &Path) -> ModPath {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "mod")) {
        parts.pop();
    }
    parts
}

/// Every file of the library (`src/main.rs` is the binary, a crate of its own).
fn library_sources() -> Vec<(ModPath, String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut pending = vec![root.clone()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && path != root.join("main.rs") {
                let relative = path.strip_prefix(&root).unwrap();
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((
                    module_of(relative),
                    format!("src/{}", relative.display()),
                    text,
                ));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_module_graph_keeps_its_layers_and_has_no_cycles() {
    let files = library_sources();
    assert!(files.len() > 50, "only {} files under src/", files.len());
    let krate = Crate::read(&files);
    // The reading sees the graph it guards: the server is built on the API layer, and the engine
    // on the policies.
    let dependencies = krate.dependencies();
    let depends = |from: &str, to: &str| {
        dependencies.iter().any(|d| {
            d.from.first().map(String::as_str) == Some(from)
                && d.to.first().map(String::as_str) == Some(to)
        })
    };
    assert!(depends("server", "api") && depends("engine", "policy"));
    let problems: Vec<String> = violations(&krate)
        .into_iter()
        .map(|(_, problem)| problem)
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker on a small crate that breaks every rule once, and on the same crate without.
#[test]
fn the_checker_finds_cycles_re_exports_and_layer_breaks() {
    let file = |module: &str, text: &str| {
        let path: ModPath = module
            .split("::")
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        (path, format!("{module}.rs"), text.to_string())
    };
    let broken = vec![
        file(
            "",
            "pub mod api; pub mod server; pub mod engine; pub mod policy;",
        ),
        file("api", "use crate::server::Metrics; pub struct Service;"),
        file(
            "server",
            "pub struct Metrics; fn f() { let _ = crate::api::Service; }",
        ),
        file("engine", "mod a; mod b; mod c; pub use a::Term;"),
        // a -> b -> c -> a, the last step through the parent's re-export of `a::Term`.
        file(
            "engine::a",
            "pub struct Term; fn f() -> super::b::B { todo!() }",
        ),
        file("engine::b", "pub struct B; use super::c::C;"),
        file(
            "engine::c",
            "pub struct C; fn f() { format!(\"{:?}\", super::Term); }",
        ),
        file(
            "policy",
            "pub fn p() { tracing::info!(\"{}\", crate::api::Service); }",
        ),
    ];
    let problems: Vec<String> = violations(&Crate::read(&broken))
        .into_iter()
        .map(|(_, problem)| problem)
        .collect();
    let all = problems.join("\n");
    assert_eq!(problems.len(), 4, "{all}");
    assert!(all.contains("api imports server (api.rs)"), "{all}");
    assert!(
        all.contains("sibling modules in a cycle: api -> server"),
        "{all}"
    );
    assert!(all.contains("engine::a -> engine::b"), "{all}");
    assert!(all.contains("engine::c -> engine::a"), "{all}");
    assert!(all.contains("policy imports api"), "{all}");

    let sound = vec![
        file(
            "",
            "pub mod api; pub mod server; pub mod engine; pub mod policy;",
        ),
        file("api", "pub trait Counter {} pub struct Service;"),
        file(
            "server",
            "pub struct Metrics; impl crate::api::Counter for Metrics {}",
        ),
        file("engine", "mod a; mod b; mod c; pub use a::Term;"),
        file(
            "engine::a",
            "pub struct Term; fn f() -> super::b::B { todo!() }",
        ),
        file("engine::b", "pub struct B; use super::c::C;"),
        file(
            "engine::c",
            "pub struct C; #[cfg(test)] mod tests { use super::*; }",
        ),
        file(
            "policy",
            "/// Not [`crate::api::Service`]: a doc comment is not code.\npub fn p() {}",
        ),
    ];
    let problems = violations(&Crate::read(&sound));
    assert!(problems.is_empty(), "{problems:?}");
}
