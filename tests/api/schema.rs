//! `schema.graphql` is the committed SDL; it must equal what `lift schema` prints.

#[test]
fn committed_schema_matches_lift_schema() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lift"))
        .arg("schema")
        .output()
        .expect("run lift schema");
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql is committed");
    assert!(
        printed == committed,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

/// Soft-deleted rows must only be reachable through `db/scope.rs`: no other file calls
/// `Entity::find()` directly.
#[test]
fn only_the_scope_module_calls_entity_find() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(src)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("db/scope.rs")
            {
                let text = std::fs::read_to_string(&path).expect("read file");
                if text.contains("Entity::find()") || text.contains("::find_by_id(") {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "bare Entity::find() outside db/scope.rs: {offenders:?}"
    );
}

/// Every mutation ends with `service::audit::commit`, which writes its audit row in the same
/// transaction: no other use-case may commit a transaction itself.
#[test]
fn only_the_audit_commit_commits_use_case_transactions() {
    let service = concat!(env!("CARGO_MANIFEST_DIR"), "/src/service");
    let mut offenders = Vec::new();
    for entry in std::fs::read_dir(service).expect("read src/service") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("audit.rs") {
            let text = std::fs::read_to_string(&path).expect("read file");
            if text.contains(".commit()") {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "commits without an audit row: {offenders:?}"
    );
}
