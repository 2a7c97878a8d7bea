//! The library's module graph flows one way: no top-level module (a file `src/X.rs` or a folder
//! `src/X/`) refers to one that refers back to it, directly or through others, and the library does not
//! use the binary's crates (clap; the server's tokio, axum, tower-http, utoipa) — those belong to the
//! binary (`src/main.rs`, `src/cli/`) and its `cli` feature.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The library's files by top-level module, with the code lines (comments dropped) of each module.
fn library() -> BTreeMap<String, Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_string_lossy().trim_end_matches(".rs").to_string();
        if top == "main" || top == "cli" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.lines().filter(|l| !l.trim_start().starts_with("//")).map(str::to_string);
        modules.entry(top).or_default().extend(code);
    }
    modules
}

/// module → the other top-level modules its code names as `crate::X`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = library();
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(m, lines)| {
            let mut uses = BTreeSet::new();
            for line in lines {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if name != *m && names.contains(&name) {
                        uses.insert(name);
                    }
                    // `use crate::{a, b::c}` names several.
                    if let Some(group) = rest.strip_prefix('{') {
                        for part in group.split([',', '}']) {
                            let name: String =
                                part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                            if name != *m && names.contains(&name) {
                                uses.insert(name);
                            }
                        }
                    }
                }
            }
            (m.clone(), uses)
        })
        .collect()
}

/// A cycle through `start`, if any, as the list of modules along it.
fn cycle_from(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in &graph[at] {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn no_library_module_refers_back_to_a_module_that_refers_to_it() {
    let graph = graph();
    assert!(graph.len() > 10, "the scan found too few modules: {:?}", graph.keys());
    assert!(graph["engine"].contains("search"), "the scan misses plain `use crate::X` lines: {graph:?}");
    for m in graph.keys() {
        if let Some(cycle) = cycle_from(&graph, m) {
            panic!("module cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_library_does_not_use_the_binarys_crates() {
    for (m, lines) in library() {
        for krate in ["clap", "tokio", "axum", "tower_http", "utoipa", "serde_path_to_error"] {
            let used = lines.iter().any(|l| l.contains(&format!("{krate}::")) || l.contains(&format!("use {krate}")));
            assert!(!used, "{m} uses {krate}, a crate of the binary's `cli` feature");
        }
    }
}
