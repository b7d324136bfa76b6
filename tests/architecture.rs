//! The invariants ARCHITECTURE.md states about the source tree, one test each, named after it.
//! Each walks `src/` (and, for settings, `tests/` and `benches/`) with `std::fs`, reading code
//! with comments and string literals blanked out, so prose and SQL text never trigger a rule.
//! Behavioural invariants (commit order, NOT_FOUND before FORBIDDEN, lazy results, …) are API
//! tests under `tests/api/`; ARCHITECTURE.md names them.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One Rust file: its path relative to the crate root (with `/`) and its code without comments
/// and literals (line breaks kept, so line numbers hold).
struct Source {
    path: String,
    code: String,
}

impl Source {
    fn is_under(&self, dir: &str) -> bool {
        self.path.starts_with(dir)
    }

    /// `path:line: code` of every line that mentions `name` as a whole path or identifier.
    fn mentions(&self, name: &str) -> Vec<String> {
        self.lines_where(|line| mentions(line, name))
    }

    fn lines_where(&self, matches: impl Fn(&str) -> bool) -> Vec<String> {
        self.code
            .lines()
            .enumerate()
            .filter(|(_, line)| matches(line))
            .map(|(n, line)| format!("{}:{}: {}", self.path, n + 1, line.trim()))
            .collect()
    }
}

/// Every `.rs` file under these directories of the crate.
fn sources(dirs: &[&str]) -> Vec<Source> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| Path::new(ROOT).join(d)).collect();
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a readable file");
                let relative = path
                    .strip_prefix(ROOT)
                    .expect("under the crate")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push(Source {
                    path: relative,
                    code: strip(&text),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `line` names `name` (`tokio`, `std::fs`, `Entity::find()`) with no identifier
/// character glued to either end.
fn mentions(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + name.len()..].chars().next();
        let starts = name.starts_with(is_ident);
        let ends = name.ends_with(is_ident);
        let glued_before = starts && before.is_some_and(is_ident);
        let glued_after = ends && after.is_some_and(is_ident);
        !glued_before && !glued_after
    })
}

/// Rust source without comments, and with string, raw-string and char literals emptied.
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Keeps line breaks of skipped text, so line numbers still match the file.
    let skip = |out: &mut String, from: usize, to: usize| {
        for c in &chars[from..to.min(chars.len())] {
            if *c == '\n' {
                out.push('\n');
            }
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let glued = out.chars().next_back().is_some_and(is_ident);
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let (start, mut depth) = (i, 0);
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            skip(&mut out, start, i);
            out.push(' ');
            continue;
        }
        if !glued && (c == 'r' || (c == 'b' && next == Some('r'))) {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                let start = i;
                j += 1;
                let closing = |at: usize| {
                    chars.get(at) == Some(&'"')
                        && (1..=hashes).all(|k| chars.get(at + k) == Some(&'#'))
                };
                while j < chars.len() && !closing(j) {
                    j += 1;
                }
                i = j + 1 + hashes;
                skip(&mut out, start, i);
                out.push_str("\"\"");
                continue;
            }
        }
        if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            skip(&mut out, start, i);
            out.push_str("\"\"");
            continue;
        }
        if c == '\'' {
            // A char literal (`'x'`, `'\n'`, `'\u{1F600}'`), not a lifetime (`'a`).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
                continue;
            }
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn assert_none(offenders: Vec<String>, rule: &str) {
    assert!(
        offenders.is_empty(),
        "{rule}:\n  {}",
        offenders.join("\n  ")
    );
}

#[test]
fn the_walker_sees_code_but_not_comments_or_literals() {
    let code = strip(
        "let a = \"tokio::spawn\"; // sea_orm\n/* async_graphql /* nested */ */ let b = r#\"x\"#;\nlet c = '\\'' ; fn f<'a>(x: &'a str) { std::fs::read(x) }",
    );
    assert!(
        !code.contains("tokio") && !code.contains("sea_orm") && !code.contains("async_graphql")
    );
    assert_eq!(code.lines().count(), 3, "{code}");
    assert!(mentions(&code, "std::fs"), "{code}");
    assert!(mentions(&code, "'a"), "lifetimes stay: {code}");
    assert!(!mentions("let tokio_like = 1;", "tokio"));
    assert!(mentions("use tokio::sync;", "tokio"));
}

/// domain/ does no IO and names neither sea_orm nor async_graphql.
#[test]
fn domain_does_no_io_and_names_neither_sea_orm_nor_async_graphql() {
    let forbidden = [
        "sea_orm",
        "async_graphql",
        "tokio",
        "clickhouse",
        "hyper",
        "reqwest",
        "std::fs",
        "std::net",
        "std::io",
        "std::env",
        "std::process",
        "crate::db",
        "crate::service",
        "crate::warehouse",
    ];
    let offenders = sources(&["src/domain"])
        .iter()
        .flat_map(|file| forbidden.iter().flat_map(|name| file.mentions(name)))
        .collect();
    assert_none(offenders, "domain/ names IO or a layer above it");
}

/// Only graphql/ (the schema) and http/ (serving it: requests, WebSocket protocol, error codes of
/// requests async-graphql rejects itself) name async_graphql.
#[test]
fn only_graphql_and_http_name_async_graphql() {
    let offenders = sources(&["src"])
        .iter()
        .filter(|f| !f.is_under("src/graphql/") && !f.is_under("src/http/"))
        .flat_map(|f| f.mentions("async_graphql"))
        .collect();
    assert_none(offenders, "async_graphql outside graphql/ and http/");
}

/// Only db/ names SeaORM entities (and their active models).
#[test]
fn only_db_names_seaorm_entities() {
    let names = [
        "db::entity",
        "EntityTrait",
        "ActiveModelTrait",
        "ActiveModel",
    ];
    let offenders = sources(&["src"])
        .iter()
        .filter(|f| !f.is_under("src/db/"))
        .flat_map(|f| names.iter().flat_map(|name| f.mentions(name)))
        .collect();
    assert_none(offenders, "SeaORM entities outside db/");
}

/// Soft-deleted rows are reachable only through db/scope.rs: no other file calls an entity's
/// `find()` or `find_by_id()`.
#[test]
fn only_the_scope_module_calls_entity_find() {
    let offenders = sources(&["src"])
        .iter()
        .filter(|f| f.path != "src/db/scope.rs")
        .flat_map(|f| f.lines_where(|l| l.contains("Entity::find(") || l.contains("::find_by_id(")))
        .collect();
    assert_none(offenders, "an entity's find() outside db/scope.rs");
}

/// `find_all` reads every row, so only entities without a soft-delete column are `NoSoftDelete`.
#[test]
fn only_tables_without_soft_delete_are_no_soft_delete() {
    let entities = sources(&["src/db/entity"]);
    let soft_deleted: Vec<String> = entities
        .iter()
        .filter(|f| f.code.contains("deleted_at"))
        .map(|f| {
            let file = f.path.rsplit('/').next().expect("a file name");
            file.trim_end_matches(".rs").to_owned()
        })
        .collect();
    assert!(
        soft_deleted.iter().any(|e| e == "metric")
            && soft_deleted.iter().any(|e| e == "experiment"),
        "the walker finds the soft-deleted tables: {soft_deleted:?}"
    );
    let scope = sources(&["src/db"])
        .into_iter()
        .find(|f| f.path == "src/db/scope.rs")
        .expect("src/db/scope.rs");
    let offenders = soft_deleted
        .iter()
        .flat_map(|entity| {
            scope.lines_where(|l| mentions(l, &format!("impl NoSoftDelete for {entity}::Entity")))
        })
        .collect();
    assert_none(offenders, "a soft-deleted table marked NoSoftDelete");
}

/// A mutation commits only through `service::audit::commit`, which writes its audit row in the
/// same transaction. `lift admin` (an operator's command line, not the API) commits its own.
#[test]
fn only_the_audit_commit_commits_a_transaction() {
    let offenders = sources(&["src"])
        .iter()
        .filter(|f| f.path != "src/service/audit.rs" && f.path != "src/admin.rs")
        .flat_map(|f| f.lines_where(|l| l.contains(".commit()")))
        .collect();
    assert_none(offenders, "a commit without an audit row");
}

/// The schema registers no async-graphql extension: with any, async-graphql sends every field of
/// every response through the extension chain, which costs more than the rest of a large list.
/// What runs around a request belongs in `graphql/executor.rs`.
#[test]
fn the_schema_has_no_extension() {
    let offenders = sources(&["src"])
        .iter()
        .flat_map(|f| {
            let mut lines = f.lines_where(|l| l.contains(".extension("));
            lines.extend(f.mentions("ExtensionFactory"));
            lines
        })
        .collect();
    assert_none(offenders, "an async-graphql extension on the schema");
}

/// What is at rest is parsed like input, in one place: inside db/, only convert.rs turns stored
/// text or JSON into values (page.rs reads clients' cursors, failure.rs the drivers' error codes).
#[test]
fn stored_values_are_parsed_only_in_db_convert() {
    let offenders = sources(&["src/db"])
        .iter()
        .filter(|f| {
            !matches!(
                f.path.as_str(),
                "src/db/convert.rs" | "src/db/page.rs" | "src/db/failure.rs"
            )
        })
        .flat_map(|f| {
            f.lines_where(|l| {
                l.contains(".parse()")
                    || l.contains(".parse::<")
                    || mentions(l, "from_value")
                    || mentions(l, "from_str")
            })
        })
        .collect();
    assert_none(offenders, "stored values parsed outside db/convert.rs");
}

/// sql/ and stats/ are pure (no tokio, sea_orm, async_graphql, clickhouse), and only warehouse/
/// holds a ClickHouse client.
#[test]
fn sql_and_stats_are_pure_and_only_warehouse_names_clickhouse() {
    let impure = [
        "tokio",
        "sea_orm",
        "async_graphql",
        "clickhouse",
        "hyper",
        "reqwest",
    ];
    let mut offenders: Vec<String> = sources(&["src/sql", "src/stats"])
        .iter()
        .flat_map(|f| impure.iter().flat_map(|name| f.mentions(name)))
        .collect();
    offenders.extend(
        sources(&["src"])
            .iter()
            .filter(|f| !f.is_under("src/warehouse/"))
            .flat_map(|f| f.mentions("clickhouse::")),
    );
    assert_none(
        offenders,
        "IO in sql/ or stats/, or a ClickHouse client outside warehouse/",
    );
}

/// A setting's default lives only in its flag's `#[arg(default_value…)]`: no settings struct has
/// a `Default` (derived or written), so nothing can build one with other defaults;
/// `Settings::defaults()` reads the flags.
#[test]
fn settings_defaults_live_only_in_their_flags() {
    let mut offenders = Vec::new();
    for file in sources(&["src", "tests", "benches"]) {
        let lines: Vec<&str> = file.code.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let is_settings = |l: &str| {
                l.split(|c: char| !is_ident(c))
                    .any(|word| word.ends_with("Settings"))
            };
            if line.contains("impl Default for") && is_settings(line) {
                offenders.push(format!("{}:{}: {}", file.path, n + 1, line.trim()));
            }
            // A derive on the lines above a `struct …Settings`.
            if line.contains("struct ") && is_settings(line) {
                let derives = lines[..n]
                    .iter()
                    .rev()
                    .take_while(|l| {
                        let l = l.trim();
                        l.starts_with("#[") || l.starts_with("///") || l.is_empty()
                    })
                    .any(|l| l.contains("derive(") && mentions(l, "Default"));
                if derives {
                    offenders.push(format!("{}:{}: {}", file.path, n + 1, line.trim()));
                }
            }
        }
    }
    assert_none(offenders, "a Default for a settings struct");
    let configuration = sources(&["src"])
        .into_iter()
        .find(|f| f.path == "src/configuration.rs")
        .expect("src/configuration.rs");
    assert!(
        configuration.code.contains("pub fn defaults() -> Settings"),
        "Settings::defaults() reads the flags' defaults"
    );
}
