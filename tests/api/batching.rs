//! Batched loading: the SQL statements a list costs do not grow with its page size. The server
//! counts every statement it sends to its database (`lift_db_statements_total` on `/metrics`);
//! the same query over a page of 5 and a page of 50 items must cost the same number.

use crate::helpers::*;
use lift::admin::AdminCommand;
use serde_json::{json, Value};

const METRICS_PAGE: &str = "query($first: Int!) { environment(key: \"prod\") { metrics(first: $first) { totalCount edges { node { id name environment { key } attachments { id experiment { id name status } metric { id } } } } } } }";

const EXPERIMENTS_PAGE: &str = "query($first: Int!) { environment(key: \"prod\") { experiments(first: $first) { edges { node { id name feature { name } environment { key } metrics { id metric { id name } } } } } } }";

/// Statements the server has sent to its database so far.
async fn statements(app: &TestApp) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|line| line.strip_prefix("lift_db_statements_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("lift_db_statements_total in /metrics")
}

/// Runs `query` with `first` as the org admin: its data and the statements it cost.
async fn cost(app: &TestApp, query: &str, first: usize) -> (Value, u64) {
    let before = statements(app).await;
    let data = app
        .ok(users::ORG_ADMIN, query, json!({"first": first}))
        .await;
    (data, statements(app).await - before)
}

fn edges<'a>(data: &'a Value, list: &str) -> &'a Vec<Value> {
    data["environment"][list]["edges"]
        .as_array()
        .expect("edges")
}

db_test!(
    a_page_of_metrics_with_attachments_costs_the_same_statements_for_5_and_50,
    |app| {
        let world = app.world().await;
        let mut metrics = Vec::new();
        for i in 0..50 {
            metrics.push(app.metric(ENV, &format!("Metric {i}")).await);
        }
        let pricing = app
            .feature(&world.project_a, "pricing", "control:1,treatment:1")
            .await;
        let checkout = app.experiment(ENV, &world.feature, "Checkout").await;
        let prices = app.experiment(ENV, &pricing, "Prices").await;
        // Every metric on the first experiment, every other one also on the second.
        for (i, metric) in metrics.iter().enumerate() {
            app.attach(&checkout, metric).await;
            if i % 2 == 0 {
                app.attach(&prices, metric).await;
            }
        }
        app.lifecycle("startExperiment", &checkout).await;

        let (small, small_cost) = cost(&app, METRICS_PAGE, 5).await;
        let (large, large_cost) = cost(&app, METRICS_PAGE, 50).await;

        assert_eq!(edges(&small, "metrics").len(), 5);
        let nodes = edges(&large, "metrics");
        assert_eq!(nodes.len(), 50);
        let attachments: usize = nodes
            .iter()
            .map(|e| e["node"]["attachments"].as_array().expect("list").len())
            .sum();
        assert_eq!(attachments, 75, "50 on Checkout, 25 on Prices");
        for edge in nodes {
            let node = &edge["node"];
            assert_eq!(node["environment"]["key"], ENV);
            for attachment in node["attachments"].as_array().expect("list") {
                assert_eq!(attachment["metric"]["id"], node["id"]);
                let experiment = &attachment["experiment"];
                let expected = if experiment["id"] == checkout.as_str() {
                    ("Checkout", "RUNNING")
                } else {
                    assert_eq!(experiment["id"], prices.as_str());
                    ("Prices", "CREATED")
                };
                assert_eq!(
                    (&experiment["name"], &experiment["status"]),
                    (&json!(expected.0), &json!(expected.1))
                );
            }
        }
        assert!(small_cost > 0, "the server counts its statements");
        assert_eq!(
            large_cost, small_cost,
            "statements for a page of 50 metrics ({large_cost}) and of 5 ({small_cost})"
        );
    }
);

db_test!(
    a_page_of_experiments_with_metrics_costs_the_same_statements_for_5_and_50,
    |app| {
        let world = app.world().await;
        let metrics = [
            app.metric(ENV, "Revenue").await,
            app.metric(ENV, "Conversion").await,
        ];
        for i in 0..50 {
            // One active experiment per feature and environment: a feature each.
            let feature = app
                .admin(AdminCommand::CreateFeature {
                    project: world.project_a.clone(),
                    name: format!("feature {i}"),
                    variants: "control:1,treatment:1".into(),
                })
                .await;
            let experiment = app
                .experiment(ENV, &feature, &format!("Experiment {i}"))
                .await;
            for metric in &metrics[..1 + i % 2] {
                app.attach(&experiment, metric).await;
            }
        }

        let (small, small_cost) = cost(&app, EXPERIMENTS_PAGE, 5).await;
        let (large, large_cost) = cost(&app, EXPERIMENTS_PAGE, 50).await;

        assert_eq!(edges(&small, "experiments").len(), 5);
        let nodes = edges(&large, "experiments");
        assert_eq!(nodes.len(), 50);
        for edge in nodes {
            let node = &edge["node"];
            let name = node["name"].as_str().expect("name");
            let i: usize = name["Experiment ".len()..].parse().expect("number");
            assert_eq!(node["feature"]["name"], format!("feature {i}"));
            assert_eq!(node["environment"]["key"], ENV);
            let attached: Vec<&Value> = node["metrics"]
                .as_array()
                .expect("metrics")
                .iter()
                .map(|a| &a["metric"]["name"])
                .collect();
            let expected: Vec<Value> =
                [json!("Revenue"), json!("Conversion")][..1 + i % 2].to_vec();
            assert_eq!(attached, expected.iter().collect::<Vec<_>>(), "{name}");
        }
        assert_eq!(
            large_cost, small_cost,
            "statements for a page of 50 experiments ({large_cost}) and of 5 ({small_cost})"
        );
    }
);

const VERSIONS_PAGE: &str = "query($first: Int!) { environment(key: \"prod\") { metrics(first: $first) { edges { node { id version versions(first: 2) { totalCount edges { node { version definition { event } } } } attachments { metricVersion definition { version definition { event } } } } } } } }";

db_test!(
    a_page_of_metrics_with_versions_and_pinned_definitions_costs_the_same_for_5_and_50,
    |app| {
        let world = app.world().await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        for i in 0..50 {
            let metric = app.metric(ENV, &format!("Metric {i}")).await;
            app.attach(&experiment, &metric).await;
            let body = app
                .gql(
                    users::ORG_ADMIN,
                    "mutation($id: ID!, $event: String!) { updateMetric(id: $id, input: { definition: { event: $event } }) { version } }",
                    json!({"id": metric, "event": format!("event {i}")}),
                )
                .await;
            assert_eq!(code(&body), "OK", "{body}");
        }

        let (small, small_cost) = cost(&app, VERSIONS_PAGE, 5).await;
        let (large, large_cost) = cost(&app, VERSIONS_PAGE, 50).await;

        assert_eq!(edges(&small, "metrics").len(), 5);
        let nodes = edges(&large, "metrics");
        assert_eq!(nodes.len(), 50);
        for edge in nodes {
            let node = &edge["node"];
            assert_eq!(node["version"], 2);
            let versions = &node["versions"];
            assert_eq!(versions["totalCount"], 2);
            let listed: Vec<&Value> = versions["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| &e["node"]["version"])
                .collect();
            assert_eq!(listed, [&json!(2), &json!(1)]);
            assert_eq!(
                versions["edges"][1]["node"]["definition"]["event"],
                "page_view"
            );
            let pinned = &node["attachments"][0];
            assert_eq!(pinned["metricVersion"], 1);
            assert_eq!(pinned["definition"]["version"], 1);
            assert_eq!(pinned["definition"]["definition"]["event"], "page_view");
        }
        assert_eq!(
            large_cost, small_cost,
            "statements for a page of 50 metrics ({large_cost}) and of 5 ({small_cost})"
        );
    }
);

const OVER_WEBSOCKET: &str = "{ environment(key: \"prod\") { metrics(first: 10) { edges { node { name environment { key } attachments { experiment { name environment { key } } } } } } } }";

db_test!(
    a_query_over_websocket_batches_with_the_connections_viewer_like_over_http,
    |app| {
        use crate::ws::{Protocol, WsClient, WAIT};
        let world = app.world().await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        for i in 0..10 {
            let metric = app.metric(ENV, &format!("Metric {i}")).await;
            app.attach(&experiment, &metric).await;
        }
        let (over_http, http_cost) = cost(&app, OVER_WEBSOCKET, 10).await;

        let mut client =
            WsClient::connect(&app.address, Protocol::Transport, users::ORG_ADMIN).await;
        let before = statements(&app).await;
        client
            .send(json!({"id": "q", "type": "subscribe", "payload": {"query": OVER_WEBSOCKET}}))
            .await;
        let message = client.message_within(WAIT).await.expect("an answer");
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        let complete = client.message_within(WAIT).await.expect("complete");
        assert_eq!(complete["type"], "complete", "{complete}");
        let ws_cost = statements(&app).await - before;
        client.close().await;

        assert_eq!(message["payload"]["data"], over_http);
        let nodes = edges(&over_http, "metrics");
        assert_eq!(nodes.len(), 10);
        for edge in nodes {
            let attachments = edge["node"]["attachments"].as_array().expect("list");
            assert_eq!(attachments.len(), 1);
            assert_eq!(attachments[0]["experiment"]["environment"]["key"], ENV);
        }
        // Over HTTP the token is checked per request (one statement); over the socket it was
        // checked at `connection_init`.
        assert_eq!(
            ws_cost + 1,
            http_cost,
            "over WebSocket {ws_cost}, over HTTP {http_cost}"
        );
    }
);

const ATTACHMENT_FIELDS: &str = "id expectedDirection role metricVersion createdAt updatedAt";
const EXPERIMENT_FIELDS: &str = "id name hypothesis status exposureEvent controlVariant multipleExposureHandling analysis { engine alpha sequential sequentialTuning cuped cupedLookbackDays correction prior { proper mean variance } minimumIdentities minimumConversions targetMde } startedAt endedAt createdAt updatedAt deletedAt";

db_test!(
    attachments_read_with_a_page_of_metrics_equal_those_read_through_their_experiments,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Revenue").await;
        let other = app.metric(ENV, "Unattached").await;
        let feature = |name: &'static str| {
            let (app, project) = (&app, world.project_a.clone());
            async move { app.feature(&project, name, "control:1,treatment:1").await }
        };
        // Started then completed (both times set); pinned settings and a guardrail; deleted.
        let completed = app.experiment(ENV, &world.feature, "Completed").await;
        app.attach(&completed, &metric).await;
        app.lifecycle("startExperiment", &completed).await;
        app.lifecycle("completeExperiment", &completed).await;
        let pinned = app
            .ok(
                users::ORG_ADMIN,
                "mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }",
                json!({"input": {"environmentKey": ENV, "featureId": feature("pricing").await,
                    "name": "Pinned", "hypothesis": "Cheaper sells more",
                    "analysis": {"alpha": 0.1, "cuped": false}}}),
            )
            .await["createExperiment"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        app.ok(
            users::ORG_ADMIN,
            "mutation($input: AttachMetricInput!) { attachMetric(input: $input) { id } }",
            json!({"input": {"experimentId": pinned, "metricId": metric,
                "expectedDirection": "DECREASE", "role": "GUARDRAIL"}}),
        )
        .await;
        let deleted = app
            .experiment(ENV, &feature("banner").await, "Deleted")
            .await;
        app.attach(&deleted, &metric).await;
        app.ok(
            users::ORG_ADMIN,
            "mutation($id: ID!) { deleteExperiment(id: $id) { id } }",
            json!({"id": deleted}),
        )
        .await;

        let page = app
            .ok(
                users::ORG_ADMIN,
                &format!("{{ environment(key: \"{ENV}\") {{ metrics(first: 10) {{ edges {{ node {{ id attachments {{ {ATTACHMENT_FIELDS} experiment {{ {EXPERIMENT_FIELDS} }} }} }} }} }} }} }}"),
                json!({}),
            )
            .await;
        let nodes = edges(&page, "metrics");
        let attachments_of = |id: &str| {
            nodes
                .iter()
                .find(|e| e["node"]["id"] == id)
                .map(|e| e["node"]["attachments"].clone())
                .expect("the metric in the page")
        };
        assert_eq!(attachments_of(&other), json!([]));
        let listed = attachments_of(&metric);
        let listed = listed.as_array().expect("attachments");
        let experiments: Vec<&Value> = listed.iter().map(|a| &a["experiment"]["id"]).collect();
        assert_eq!(
            experiments,
            [&json!(completed), &json!(pinned)],
            "live experiments only, in the order attached"
        );
        for attachment in listed {
            let experiment = &attachment["experiment"];
            let read = app
                .ok(
                    users::ORG_ADMIN,
                    &format!("query($id: ID!) {{ experiment(id: $id) {{ {EXPERIMENT_FIELDS} metrics {{ {ATTACHMENT_FIELDS} }} }} }}"),
                    json!({"id": experiment["id"]}),
                )
                .await;
            let mut read = read["experiment"].clone();
            let through_experiment = read["metrics"][0].take();
            read.as_object_mut().expect("experiment").remove("metrics");
            assert_eq!(experiment, &read);
            let mut listed = attachment.clone();
            listed
                .as_object_mut()
                .expect("attachment")
                .remove("experiment");
            assert_eq!(listed, through_experiment);
        }
        let completed_experiment = &listed[0]["experiment"];
        assert!(
            completed_experiment["endedAt"].is_string(),
            "{completed_experiment}"
        );
        assert_eq!(listed[1]["role"], "GUARDRAIL");
        assert_eq!(listed[1]["experiment"]["analysis"]["alpha"], 0.1);
    }
);
