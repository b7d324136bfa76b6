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
