//! `search` on the metric library: a literal, case-insensitive match on names (also for non-ASCII
//! letters) in which `%`, `_` and `\` are not wildcards.

use super::*;

db_test!(
    search_matches_names_ignoring_case_and_treats_wildcards_literally,
    |app| {
        app.world().await;
        for name in [
            "Checkout Rate",
            "checkout revenue",
            "Signups",
            "50% off",
            "500 off",
            "a_b test",
            "axb test",
            r"back\slash",
        ] {
            app.metric(ENV, name).await;
        }
        app.metric(OTHER_ENV, "Checkout elsewhere").await;

        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("CHECKOUT", vec!["checkout revenue", "Checkout Rate"]),
            ("checkout r", vec!["checkout revenue", "Checkout Rate"]),
            ("rEvEnUe", vec!["checkout revenue"]),
            ("50%", vec!["50% off"]),
            ("%", vec!["50% off"]),
            ("a_b", vec!["a_b test"]),
            ("_", vec!["a_b test"]),
            (r"\", vec![r"back\slash"]),
            ("nothing like it", vec![]),
        ];
        for (search, expected) in cases {
            let (total, names) = library(&app, ENV, Some(search)).await;
            assert_eq!(names, expected, "search {search:?}");
            assert_eq!(total, expected.len() as u64, "totalCount for {search:?}");
        }
        let (total, _) = library(&app, ENV, None).await;
        assert_eq!(total, 8);
    }
);

db_test!(search_ignores_the_case_of_non_ascii_letters, |app| {
    app.world().await;
    app.metric(ENV, "Überweisungen").await;
    app.metric(ENV, "Ölpreis").await;
    let (total, names) = library(&app, ENV, Some("überweisungen")).await;
    assert_eq!(
        (total, names),
        (1, vec!["Überweisungen".to_owned()]),
        "searching \"überweisungen\" finds \"Überweisungen\""
    );
    let (total, names) = library(&app, ENV, Some("ÖLPREIS")).await;
    assert_eq!(
        (total, names),
        (1, vec!["Ölpreis".to_owned()]),
        "searching \"ÖLPREIS\" finds \"Ölpreis\""
    );
});
