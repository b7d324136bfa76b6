//! An environment admin's warehouse connection cannot point into the operator's network: loopback,
//! private, link-local (cloud metadata) and other internal addresses, in every spelling and behind
//! names, are refused after resolution unless `LIFT_WAREHOUSE_ALLOWED_HOSTS` lists them; URLs carry
//! no path. A connection whose address is no longer allowed is refused when it connects.

use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::Warehouse;
use crate::helpers::*;

const CONNECTION: &str =
    "query($key: String!) { environment(key: $key) { warehouseConnection { id } } }";

const TEST_CONNECTION: &str =
    "mutation($id: ID!) { testWarehouseConnection(id: $id) { reachable message } }";

async fn create(app: &TestApp, url: &str) -> Value {
    app.gql(
        users::ENV_ADMIN,
        CREATE_CONNECTION,
        json!({"input": {"environmentKey": ENV, "url": url}}),
    )
    .await
}

/// The port of the test ClickHouse.
fn engine_port() -> String {
    let url = crate::clickhouse::clickhouse_url();
    url.rsplit(':').next().expect("a port").to_owned()
}

fn assert_refused_naming_the_setting(body: &Value, url: &str) {
    assert_eq!(code(body), "BAD_USER_INPUT", "{url}: {body}");
    assert_eq!(field(body), "url", "{url}: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("LIFT_WAREHOUSE_ALLOWED_HOSTS"),
        "{url}: the message says how to allow it: {message}"
    );
}

db_test_with!(
    internal_addresses_in_every_spelling_are_refused_and_the_message_names_the_setting,
    |settings| {
        local_engine(&mut settings);
        settings.clickhouse.warehouse_allowed_hosts.clear();
    },
    |app| {
        app.world().await;
        let port = engine_port();
        for url in [
            format!("http://127.0.0.1:{port}"),
            "http://127.1".to_owned(),
            "http://0x7f000001".to_owned(),
            "http://2130706433".to_owned(),
            "http://[::1]:8123".to_owned(),
            "http://[::ffff:127.0.0.1]".to_owned(),
            "http://[::ffff:a9fe:a9fe]".to_owned(),
            "http://169.254.169.254".to_owned(),
            "http://[fd00:ec2::254]".to_owned(),
            "http://10.0.0.1:8123".to_owned(),
            "http://172.16.5.4".to_owned(),
            "http://192.168.1.1".to_owned(),
            "http://100.64.0.1".to_owned(),
            "http://0.0.0.0:8123".to_owned(),
            "http://224.0.0.1".to_owned(),
            "http://localhost:8123".to_owned(),
            "https://LOCALHOST.:8443".to_owned(),
        ] {
            let body = create(&app, &url).await;
            assert_refused_naming_the_setting(&body, &url);
        }
        let stored = app
            .ok(users::ENV_ADMIN, CONNECTION, json!({ "key": ENV }))
            .await;
        assert_eq!(stored["environment"]["warehouseConnection"], Value::Null);
    }
);

db_test_with!(
    listed_addresses_and_names_are_allowed_but_never_with_a_path,
    |settings| {
        local_engine(&mut settings);
        settings.clickhouse.warehouse_allowed_hosts =
            vec!["127.0.0.0/8".parse().expect("a network")];
    },
    |app| {
        app.world().await;
        let port = engine_port();
        for url in [
            format!("http://127.0.0.1:{port}/clickhouse"),
            format!("http://127.0.0.1:{port}/?user=admin"),
            format!("http://127.0.0.1:{port}/#x"),
        ] {
            let body = create(&app, &url).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{url}: {body}");
            assert_eq!(field(&body), "url", "{url}: {body}");
        }
        // Inside the listed network, in another spelling too; the probe reaches the engine.
        let warehouse = Warehouse::create().await;
        let body = app
            .gql(
                users::ENV_ADMIN,
                CREATE_CONNECTION,
                json!({"input": {"environmentKey": ENV, "url": format!("http://127.1:{port}/"),
                                 "database": warehouse.database}}),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        let id = body["data"]["createWarehouseConnection"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let report = app
            .ok(users::ENV_ADMIN, TEST_CONNECTION, json!({ "id": id }))
            .await;
        assert_eq!(
            report["testWarehouseConnection"]["reachable"], true,
            "{report}"
        );
        drop(warehouse);
        // Outside it, still refused.
        let body = app
            .gql(
                users::ORG_ADMIN,
                CREATE_CONNECTION,
                json!({"input": {"environmentKey": OTHER_ENV, "url": "http://169.254.169.254"}}),
            )
            .await;
        assert_refused_naming_the_setting(&body, "http://169.254.169.254");
    }
);

db_test_with!(
    a_listed_name_allows_the_addresses_it_resolves_to,
    |settings| {
        local_engine(&mut settings);
        settings.clickhouse.warehouse_allowed_hosts = vec!["localhost".parse().expect("a name")];
    },
    |app| {
        app.world().await;
        let body = create(&app, &format!("http://localhost:{}", engine_port())).await;
        assert_eq!(code(&body), "OK", "{body}");
        let url = format!("http://127.0.0.1:{}", engine_port());
        let body = app
            .gql(
                users::ORG_ADMIN,
                CREATE_CONNECTION,
                json!({"input": {"environmentKey": OTHER_ENV, "url": url}}),
            )
            .await;
        assert_refused_naming_the_setting(&body, "only the name is listed, not its address");
    }
);

/// Starts lift over `database_url` with the test ClickHouse's transport and this allow-list.
async fn lift_allowing(database_url: &str, allowed: &[&str]) -> TestApp {
    let mut settings = settings(database_url);
    local_engine(&mut settings);
    settings.clickhouse.warehouse_allowed_hosts = allowed
        .iter()
        .map(|entry| entry.parse().expect("an allow-list entry"))
        .collect();
    spawn_app_with(settings).await
}

fn message(body: &Value) -> &str {
    body["errors"][0]["message"].as_str().unwrap_or_default()
}

/// Connections made while 127.0.0.1 was allowed, then read by a lift that no longer allows it
/// (as after the operator narrows the list, or a name re-resolving to an internal address): the
/// address is checked when lift connects, not only when the connection was created.
async fn an_address_no_longer_allowed_is_refused_when_lift_connects(backend: Backend) {
    let database_url = fresh_database(backend).await;
    let allowing = lift_allowing(&database_url, &["127.0.0.1"]).await;
    let world = allowing.world().await;
    let warehouse = Warehouse::create().await;
    connect(&allowing, ENV, &warehouse).await;
    let tls = connect_to(
        &allowing,
        OTHER_ENV,
        "https://127.0.0.1:1",
        "default",
        "events",
    )
    .await;
    let purchases = metric(
        &allowing,
        metric_of(ENV, "Purchases", "COUNT", json!({ "event": "purchase" })),
    )
    .await;
    let (experiment, _) =
        started_experiment(&allowing, ENV, &world.feature, "Checkout", None).await;
    attach_as(&allowing, &experiment, &purchases, "INCREASE", "PRIMARY").await;
    let body = results_as(
        &allowing,
        users::ORG_ADMIN,
        &experiment,
        "exposures { identities } metrics { metricId }",
    )
    .await;
    assert_eq!(code(&body), "OK", "allowed: {body}");

    let strict = lift_allowing(&database_url, &[]).await;
    let body = results_as(
        &strict,
        users::ORG_ADMIN,
        &experiment,
        "exposures { identities } metrics { metricId }",
    )
    .await;
    assert_eq!(code(&body), "WAREHOUSE_UNAVAILABLE", "{body}");
    assert!(
        message(&body).contains("LIFT_WAREHOUSE_ALLOWED_HOSTS"),
        "{body}"
    );
    let connection = strict
        .ok(users::ENV_ADMIN, CONNECTION, json!({ "key": ENV }))
        .await;
    let id = connection["environment"]["warehouseConnection"]["id"]
        .as_str()
        .expect("the stored connection");
    for id in [id, tls.as_str()] {
        let report = strict
            .ok(users::ORG_ADMIN, TEST_CONNECTION, json!({ "id": id }))
            .await;
        let report = &report["testWarehouseConnection"];
        assert_eq!(report["reachable"], false, "{report}");
        assert!(
            report["message"]
                .as_str()
                .is_some_and(|m| m.contains("LIFT_WAREHOUSE_ALLOWED_HOSTS")),
            "{report}"
        );
    }
}

mod a_connection_whose_address_is_no_longer_allowed_is_refused_when_lift_connects {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        an_address_no_longer_allowed_is_refused_when_lift_connects(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        an_address_no_longer_allowed_is_refused_when_lift_connects(Backend::Postgres).await;
    }
}
